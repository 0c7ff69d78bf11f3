"""The templates a widget offers: the core :class:`~cams_notebook.templates.TemplateCatalogue`,
and why a look-up failed, in words.

A part of the composer and of the campaign panel's model. The catalogue fetches each
template once; this adds what a form needs on top: a failed look-up (no such template, no
credentials, a refused signature) is kept as the sentence shown under the picker, and not
asked again, so a keystroke never re-asks the service.
"""

from __future__ import annotations

from collections.abc import Callable

from ..client import Client
from ..errors import CamsError, MissingCredentialsError
from ..templates import TEMPLATE_TYPES, Template, TemplateCatalogue, TemplateSummary

__all__ = ["TemplateChoices"]


class TemplateChoices:
    """Templates by channel and by (code, language), with :attr:`failures` to show.

    ``client`` is called the first time a template is needed (so a composer without
    credentials still composes): what it raises is a failure, like the service's refusals.
    """

    def __init__(self, client: Callable[[], Client]) -> None:
        self._client = client
        self._catalogue: TemplateCatalogue | None = None
        self.failures: dict[object, str] = {}
        """Failed look-ups by channel or (code, language): shown, and not retried."""
        self.errors: dict[object, Exception] = {}
        """What each failed look-up raised (an ``AuthError`` for a refused signature…), so a
        caller that needs a template can raise the real cause, not "no such template"."""

    @property
    def catalogue(self) -> TemplateCatalogue:
        """The catalogue (made on first use, from the client)."""
        if self._catalogue is None:
            self._catalogue = TemplateCatalogue(self._client())
        return self._catalogue

    def summaries(self, channel: str) -> list[TemplateSummary]:
        """The account's templates of a channel; [] for a channel without templates, or when
        they could not be listed (see :attr:`failures`)."""
        if channel not in TEMPLATE_TYPES or channel in self.failures:
            return []
        try:
            return self.catalogue.summaries(TEMPLATE_TYPES[channel])
        except (CamsError, MissingCredentialsError) as exc:
            self.failures[channel] = f"Could not list templates: {type(exc).__name__}: {exc}"
            self.errors[channel] = exc
            return []

    def template(self, code: str, language: str,
                 template_type: str | None = None) -> Template | None:
        """One template's detail; None when it cannot be had (see :attr:`failures`)."""
        key = (code, language)
        if key in self.failures:
            return None
        error: Exception
        try:
            template = self.catalogue.get(code, language, template_type)
        except (CamsError, MissingCredentialsError) as exc:
            error = exc
            self.errors[key] = exc
        else:
            if template is not None:
                return template
            error = self.catalogue.not_found[self.catalogue.key(code, language, template_type)]
        self.failures[key] = f"Could not load template {code} ({language}): {error}"
        return None

    def note(self, channel: str, code: str | None, language: str | None) -> str:
        """Why the picker of a channel (or its chosen template) is empty; "" when it is not."""
        return self.failures.get((code, language)) or self.failures.get(channel) or (
            "" if channel in TEMPLATE_TYPES
            else "CAMS keeps templates for WhatsApp and Viber only.")
