"""The template catalogue: each template fetched once, "no such template" remembered, other
errors raised (and asked again), the same for the asyncio client; one channel -> type map."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cams_notebook.errors import CamsError
from cams_notebook.sandbox import Sandbox
from cams_notebook.templates import (
    TEMPLATE_NOT_FOUND_CODES,
    TEMPLATE_TYPES,
    Template,
    TemplateCatalogue,
    template_type,
)

ORDER_SHIPPED = "830174529611842305"  # en, es, pt_BR
VIBER_PROMO = "8301745296118427761"


class Counting:
    """A client's template calls, counted and passed on (or refused with ``fail``)."""

    def __init__(self, client: Any, fail: CamsError | None = None) -> None:
        self.client, self.fail = client, fail
        self.gets: list[dict[str, Any]] = []
        self.lists: list[dict[str, Any]] = []

    def get_template(self, code: str | None = None, **kwargs: Any) -> Template:
        self.gets.append({"code": code, **kwargs})
        if self.fail is not None:
            raise self.fail
        return self.client.get_template(code, **kwargs)  # type: ignore[no-any-return]

    def list_templates(self, **kwargs: Any) -> Any:
        self.lists.append(kwargs)
        if self.fail is not None:
            raise self.fail
        return self.client.list_templates(**kwargs)


class AsyncCounting(Counting):
    async def get_template(self, code: str | None = None, **kwargs: Any) -> Template:  # type: ignore[override]
        self.gets.append({"code": code, **kwargs})
        if self.fail is not None:
            raise self.fail
        return await self.client.get_template(code, **kwargs)  # type: ignore[no-any-return]

    async def list_templates(self, **kwargs: Any) -> Any:
        self.lists.append(kwargs)
        return await self.client.list_templates(**kwargs)


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=1)


def test_each_template_is_fetched_once(sandbox: Sandbox) -> None:
    client = Counting(sandbox.client())
    catalogue = TemplateCatalogue(client)
    for _ in range(3):
        assert catalogue.get(ORDER_SHIPPED, "en").name == "order_shipped"  # type: ignore[union-attr]
        assert catalogue.get(ORDER_SHIPPED, "es") is not None
    assert client.gets == [{"code": ORDER_SHIPPED, "language": "en"},
                           {"code": ORDER_SHIPPED, "language": "es"}]


def test_a_name_and_a_template_type_are_asked_for_as_such(sandbox: Sandbox) -> None:
    client = Counting(sandbox.client())
    template = TemplateCatalogue(client).get("order_shipped", "en", "whatsapp")
    assert template is not None and template.template_code == ORDER_SHIPPED
    assert client.gets == [{"code": None, "name": "order_shipped", "language": "en",
                            "template_type": "WHATSAPP"}]


def test_no_such_template_is_remembered_as_none(sandbox: Sandbox) -> None:
    client = Counting(sandbox.client())
    catalogue = TemplateCatalogue(client)
    assert catalogue.get("999", "en") is None
    assert catalogue.get("999", "en") is None
    assert len(client.gets) == 1
    error = catalogue.not_found[("999", "en", None)]
    assert error.code in TEMPLATE_NOT_FOUND_CODES  # type: ignore[attr-defined]


def test_other_errors_are_raised_and_asked_again(sandbox: Sandbox) -> None:
    refused = sandbox.client(access_key_secret="not-the-secret")
    client = Counting(refused)
    catalogue = TemplateCatalogue(client)
    for _ in range(2):
        with pytest.raises(CamsError) as caught:
            catalogue.get(ORDER_SHIPPED, "en")
        assert getattr(caught.value, "code", "") == "SignatureDoesNotMatch"
    assert len(client.gets) == 2 and catalogue.found == {}


def test_summaries_are_listed_once_per_type_and_filtered(sandbox: Sandbox) -> None:
    client = Counting(sandbox.client())
    catalogue = TemplateCatalogue(client)
    viber = catalogue.summaries("viber")
    assert {s.template_code for s in viber} >= {VIBER_PROMO}
    assert all((s.template_type or "VIBER") == "VIBER" for s in viber)
    assert catalogue.summaries("VIBER") is viber
    everything = catalogue.summaries()
    assert len(everything) > len(viber)
    assert client.lists == [{"template_type": "VIBER"}, {}]


def test_the_async_twin_fetches_once_and_remembers_absence(sandbox: Sandbox) -> None:
    client = AsyncCounting(sandbox.async_client())
    catalogue = TemplateCatalogue(client)

    async def main() -> tuple[Template | None, Template | None, Template | None]:
        first = await catalogue.aget(ORDER_SHIPPED, "en", "WHATSAPP")
        again = await catalogue.aget(ORDER_SHIPPED, "en", "WHATSAPP")
        missing = await catalogue.aget("999", "en")
        assert await catalogue.aget("999", "en") is None
        assert [s.template_code for s in await catalogue.asummaries("viber")]
        return first, again, missing

    first, again, missing = asyncio.run(main())
    assert first is again and first is not None and missing is None
    assert [g["code"] for g in client.gets] == [ORDER_SHIPPED, "999"]
    assert client.lists == [{"template_type": "VIBER"}]


def test_the_async_twin_raises_other_errors(sandbox: Sandbox) -> None:
    client = AsyncCounting(sandbox.async_client(), fail=CamsError("boom"))
    with pytest.raises(CamsError, match="boom"):
        asyncio.run(TemplateCatalogue(client).aget(ORDER_SHIPPED, "en"))


def test_one_channel_to_template_type_map() -> None:
    assert dict(TEMPLATE_TYPES) == {"whatsapp": "WHATSAPP", "viber": "VIBER"}
    assert template_type("viber") == "VIBER" and template_type("whatsapp") == "WHATSAPP"
    assert template_type("line") == "WHATSAPP"  # the API's default TemplateType
