"""The sandbox's templates, exactly as GetChatappTemplateDetail returns them in ``Data``.

Notebooks, tests and the sandbox core all use this one set, so a template code seen in a
notebook works against the sandbox. Codes are made up (stable numeric strings shaped like the
real service's, e.g. ``820561547132813184``); one template keeps one code in every language,
as in CAMS, where GetChatappTemplateDetail takes ``TemplateCode`` plus ``Language``.

========================= ==================== ======== ======== ============== ======== =========================
code                      name                 language channel  category       status   variables
========================= ==================== ======== ======== ============== ======== =========================
830174529611842305        order_shipped        en       whatsapp UTILITY        pass     name, order_id
830174529611842305        order_shipped        es       whatsapp UTILITY        pass     name, order_id
830174529611842305        order_shipped        pt_BR    whatsapp UTILITY        pass     name, order_id
830174529611842417        welcome_offer        en       whatsapp MARKETING      pass     banner_url, name, code
830174529611842417        welcome_offer        id       whatsapp MARKETING      pass     banner_url, name, code
8301745296118425339       login_code           en       whatsapp AUTHENTICATION pass     code
830174529611842649        appointment_reminder en       whatsapp UTILITY        pass     clinic, name, date, time
830174529611842649        appointment_reminder zh_CN    whatsapp UTILITY        pass     clinic, name, date, time
8301745296118427761       viber_promo          en       viber    MARKETING      pass     name
83017452961184288830      viber_notice         en       viber    UTILITY        pass     tracking_id, date
83017452961184288830      viber_notice         ru       viber    UTILITY        pass     tracking_id, date
830174529611842995        pending_template     en       whatsapp UTILITY        auditing name, invoice_id, amount
83017452961184310072      rejected_template    en       whatsapp UTILITY        fail     name
========================= ==================== ======== ======== ============== ======== =========================

Shapes worth knowing: ``order_shipped`` has a dynamic URL button
``https://shop.example.com/track/$(order_id)`` (the variable is a path suffix, not a whole URL);
``welcome_offer`` has an image header whose whole URL is ``$(banner_url)`` and a marketing
opt-out quick reply; ``login_code`` adds the security sentence, a 10-minute expiry footer and a
COPY_CODE button; ``appointment_reminder`` has a text header with one variable and a phone
button; the Viber templates put their image in HEADER (Viber shows it under the text) and allow
one URL button. Every ``Example`` is a valid ``TemplateParams`` for its template.
"""  # noqa: E501 - the table keeps a template to a line (tests/test_templates.py reads it)

from __future__ import annotations

import copy
from typing import Any, Final

from cams_notebook.templates import normalise_language

__all__ = ["CATALOGUE", "find", "list_rows"]

_ORDER_SHIPPED: Final = "830174529611842305"
_WELCOME_OFFER: Final = "830174529611842417"
_LOGIN_CODE: Final = "8301745296118425339"
_APPOINTMENT: Final = "830174529611842649"
_VIBER_PROMO: Final = "8301745296118427761"
_VIBER_NOTICE: Final = "83017452961184288830"
_PENDING: Final = "830174529611842995"
_REJECTED: Final = "83017452961184310072"


def _order_shipped(
    language: str, body: str, button: str, example: dict[str, str]
) -> dict[str, Any]:
    return {
        "TemplateCode": _ORDER_SHIPPED,
        "Name": "order_shipped",
        "Language": language,
        "Category": "UTILITY",
        "AuditStatus": "pass",
        "TemplateType": "WHATSAPP",
        "QualityScore": "GREEN",
        "Example": example,
        "Components": [
            {"Type": "BODY", "Text": body},
            {"Type": "FOOTER", "Text": "Example Shop"},
            {
                "Type": "BUTTONS",
                "Buttons": [
                    {
                        "Type": "URL",
                        "Text": button,
                        "UrlType": "dynamic",
                        "Url": "https://shop.example.com/track/$(order_id)",
                    },
                ],
            },
        ],
    }


def _welcome_offer(
    language: str, body: str, footer: str, replies: tuple[str, str], example: dict[str, str]
) -> dict[str, Any]:
    return {
        "TemplateCode": _WELCOME_OFFER,
        "Name": "welcome_offer",
        "Language": language,
        "Category": "MARKETING",
        "AuditStatus": "pass",
        "TemplateType": "WHATSAPP",
        "QualityScore": "GREEN",
        "AllowSend": True,
        "Example": example,
        "Components": [
            {"Type": "HEADER", "Format": "IMAGE", "Url": "$(banner_url)"},
            {"Type": "BODY", "Text": body},
            {"Type": "FOOTER", "Text": footer},
            {
                "Type": "BUTTONS",
                "Buttons": [
                    {"Type": "QUICK_REPLY", "Text": replies[0]},
                    {"Type": "QUICK_REPLY", "Text": replies[1], "IsOptOut": True},
                ],
            },
        ],
    }


def _appointment(
    language: str, header: str, body: str, button: str, example: dict[str, str]
) -> dict[str, Any]:
    return {
        "TemplateCode": _APPOINTMENT,
        "Name": "appointment_reminder",
        "Language": language,
        "Category": "UTILITY",
        "AuditStatus": "pass",
        "TemplateType": "WHATSAPP",
        "QualityScore": "GREEN",
        "Example": example,
        "Components": [
            {"Type": "HEADER", "Format": "TEXT", "Text": header},
            {"Type": "BODY", "Text": body},
            {"Type": "FOOTER", "Text": "Example Health"},
            {
                "Type": "BUTTONS",
                "Buttons": [
                    {"Type": "PHONE_NUMBER", "Text": button, "PhoneNumber": "+12025550143"},
                ],
            },
        ],
    }


def _viber_notice(language: str, body: str, example: dict[str, str]) -> dict[str, Any]:
    return {
        "TemplateCode": _VIBER_NOTICE,
        "Name": "viber_notice",
        "Language": language,
        "Category": "UTILITY",
        "AuditStatus": "pass",
        "TemplateType": "VIBER",
        "QualityScore": "UNKNOWN",
        "Example": example,
        "Components": [{"Type": "BODY", "Text": body}],
    }


CATALOGUE: Final[tuple[dict[str, Any], ...]] = (
    _order_shipped(
        "en",
        "Hi $(name), your order $(order_id) is on its way! "
        "Tap the button below to follow your parcel.",
        "Track order",
        {"name": "Alice", "order_id": "A10023"},
    ),
    _order_shipped(
        "es",
        "Hola $(name), ¡tu pedido $(order_id) ya está en camino! "
        "Pulsa el botón para seguir tu paquete.",
        "Seguir pedido",
        {"name": "Lucía", "order_id": "A10023"},
    ),
    _order_shipped(
        "pt_BR",
        "Olá $(name), seu pedido $(order_id) já está a caminho! "
        "Toque no botão abaixo para acompanhar a entrega.",
        "Rastrear pedido",
        {"name": "João", "order_id": "A10023"},
    ),
    _welcome_offer(
        "en",
        "Hi $(name), welcome to Example Shop! Use code $(code) at checkout "
        "for 10% off your first order.",
        "Offer valid for 7 days",
        ("Shop now", "Stop promotions"),
        {
            "banner_url": "https://cdn.example.com/banners/welcome.jpg",
            "name": "Alice",
            "code": "WELCOME10",
        },
    ),
    _welcome_offer(
        "id",
        "Hai $(name), selamat datang di Example Shop! Gunakan kode $(code) saat "
        "checkout untuk diskon 10% pesanan pertamamu.",
        "Penawaran berlaku 7 hari",
        ("Belanja sekarang", "Berhenti promosi"),
        {
            "banner_url": "https://cdn.example.com/banners/welcome-id.jpg",
            "name": "Budi",
            "code": "WELCOME10",
        },
    ),
    {
        "TemplateCode": _LOGIN_CODE,
        "Name": "login_code",
        "Language": "en",
        "Category": "AUTHENTICATION",
        "AuditStatus": "pass",
        "TemplateType": "WHATSAPP",
        "QualityScore": "GREEN",
        "MessageSendTtlSeconds": 600,
        "Example": {"code": "482913"},
        "Components": [
            {
                "Type": "BODY",
                "Text": "$(code) is your verification code.",
                "AddSecretRecommendation": True,
            },
            {"Type": "FOOTER", "CodeExpirationMinutes": 10},
            {"Type": "BUTTONS", "Buttons": [{"Type": "COPY_CODE", "Text": "Copy code"}]},
        ],
    },
    _appointment(
        "en",
        "Appointment at $(clinic)",
        "Hello $(name), this is a reminder of your appointment on $(date) at $(time). "
        "Reply to this message if you need to reschedule.",
        "Call the clinic",
        {"clinic": "Riverside Clinic", "name": "Alice", "date": "12 March", "time": "10:30"},
    ),
    _appointment(
        "zh_CN",
        "预约提醒：$(clinic)",
        "您好，$(name)！提醒您，您的预约时间为 $(date) $(time)。如需改期，请直接回复本消息。",
        "致电诊所",
        {"clinic": "滨江诊所", "name": "王芳", "date": "3月12日", "time": "10:30"},
    ),
    {
        "TemplateCode": _VIBER_PROMO,
        "Name": "viber_promo",
        "Language": "en",
        "Category": "MARKETING",
        "AuditStatus": "pass",
        "TemplateType": "VIBER",
        "QualityScore": "UNKNOWN",
        "Example": {"name": "Alice"},
        "Components": [
            {
                "Type": "BODY",
                "Text": "Hi $(name)! Our spring sale is on: 20% off everything until Sunday.",
            },
            {
                "Type": "HEADER",
                "Format": "IMAGE",
                "Url": "https://cdn.example.com/viber/spring-sale.jpg",
            },
            {
                "Type": "BUTTONS",
                "Buttons": [
                    {
                        "Type": "URL",
                        "Text": "Shop now",
                        "UrlType": "static",
                        "Url": "https://shop.example.com/spring",
                    },
                ],
            },
        ],
    },
    _viber_notice(
        "en",
        "Your parcel $(tracking_id) will arrive on $(date). Reply HELP if you have questions.",
        {"tracking_id": "EX123456789", "date": "14 March"},
    ),
    _viber_notice(
        "ru",
        "Ваша посылка $(tracking_id) прибудет $(date). Если у вас есть вопросы, ответьте HELP.",
        {"tracking_id": "EX123456789", "date": "14 марта"},
    ),
    {
        "TemplateCode": _PENDING,
        "Name": "pending_template",
        "Language": "en",
        "Category": "UTILITY",
        "AuditStatus": "auditing",
        "TemplateType": "WHATSAPP",
        "QualityScore": "UNKNOWN",
        "Example": {"name": "Alice", "invoice_id": "INV-2041", "amount": "USD 42.00"},
        "Components": [
            {
                "Type": "BODY",
                "Text": "Hi $(name), your invoice $(invoice_id) for $(amount) is ready.",
            },
        ],
    },
    {
        "TemplateCode": _REJECTED,
        "Name": "rejected_template",
        "Language": "en",
        "Category": "UTILITY",
        "AuditStatus": "fail",
        "TemplateType": "WHATSAPP",
        "QualityScore": "UNKNOWN",
        "Reason": "PROMOTIONAL: the content is promotional but the template was submitted "
        "as UTILITY. Submit it again as MARKETING.",
        "Example": {"name": "Alice"},
        "Components": [
            {
                "Type": "BODY",
                "Text": "Hi $(name)! Flash sale today only: buy one pair of shoes, get one free!",
            },
        ],
    },
)
"""Every sandbox template, one dict per (TemplateCode, Language), in the table's order."""

# LastUpdateTime (ms since the epoch) is a list field, not a detail field; fixed for
# deterministic output: 2025-01-06T00:00:00Z plus one hour per catalogue position.
_FIRST_UPDATE_MS: Final = 1_736_121_600_000


def find(
    code: str | None = None,
    name: str | None = None,
    *,
    language: str,
    template_type: str | None = None,
) -> dict[str, Any] | None:
    """The ``Data`` dict for one template in one language, or None; a copy, safe to change.

    Give ``code`` or ``name`` (or both, which must then agree), as GetChatappTemplateDetail
    takes ``TemplateCode`` or ``TemplateName``. ``language`` is compared after normalising
    (``pt-br`` finds ``pt_BR``); ``template_type`` (WHATSAPP/VIBER) narrows a name lookup.
    """
    if code is None and name is None:
        raise ValueError("find() needs a template code or a template name")
    lang = normalise_language(language)
    for entry in CATALOGUE:
        if (
            (code is None or entry["TemplateCode"] == code)
            and (name is None or entry["Name"] == name)
            and entry["Language"] == lang
            and (template_type is None or entry["TemplateType"] == template_type.upper())
        ):
            return copy.deepcopy(entry)
    return None


def list_rows(
    *,
    name: str | None = None,
    code: str | None = None,
    language: str | None = None,
    audit_status: str | None = None,
    template_type: str | None = None,
    category: str | None = None,
) -> list[dict[str, Any]]:
    """ListChatappTemplate ``ListTemplate[]`` rows matching every filter given, unpaged.

    Filters mirror the request parameters ``Name``, ``Code``, ``Language``, ``AuditStatus``
    (pass|fail|auditing|unaudit), ``TemplateType`` and ``Category``; names, codes and
    languages match exactly (languages after normalising), the enumerations in any case.
    Paging (``Page.Index``/``Page.Size``) is the caller's job.
    """
    lang = None if language is None else normalise_language(language)
    rows: list[dict[str, Any]] = []
    for position, entry in enumerate(CATALOGUE):
        if (
            (name is None or entry["Name"] == name)
            and (code is None or entry["TemplateCode"] == code)
            and (lang is None or entry["Language"] == lang)
            and _same(audit_status, entry["AuditStatus"])
            and _same(template_type, entry["TemplateType"])
            and _same(category, entry["Category"])
        ):
            row: dict[str, Any] = {
                "TemplateCode": entry["TemplateCode"],
                "TemplateName": entry["Name"],
                "AuditStatus": entry["AuditStatus"],
                "Language": entry["Language"],
                "Category": entry["Category"],
                "TemplateType": entry["TemplateType"],
                "LastUpdateTime": _FIRST_UPDATE_MS + position * 3_600_000,
            }
            if "Reason" in entry:
                row["Reason"] = entry["Reason"]
            rows.append(row)
    return rows


def _same(wanted: str | None, actual: str) -> bool:
    return wanted is None or wanted.lower() == actual.lower()
