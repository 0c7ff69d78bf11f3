"""The campaign panel's state, without widgets: the mapping, the templates it uses, the dry
run and the previewed rows.

:class:`CampaignModel` owns a :class:`~cams_notebook.campaigns.mapping.CampaignMapping`
(the columns-to-fields matching, business logic of :mod:`cams_notebook.campaigns.mapping`)
and keeps it consistent as it changes (a template of the chosen channel, a language of the
chosen template, one variable entry per variable of the template in use); it asks for
templates through a :class:`~.template_choices.TemplateChoices` (the core catalogue: once
each) and runs :func:`~cams_notebook.campaigns.dry_run.validate_frame`. The panel shows it
and edits it.

>>> import pandas as pd
>>> from cams_notebook.sandbox import Sandbox
>>> frame = pd.DataFrame({"to": ["8613900000001"], "name": ["Ada"], "order_id": ["A-1"]})
>>> model = CampaignModel(frame, Sandbox(seed=1).client())
>>> model.template_name(), model.mapping.variables["name"]
('order_shipped', Column(name='name'))
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from typing import Any

import pandas as pd

from ..campaigns.frames import validate_frame
from ..campaigns.mapping import FIELDS, CampaignMapping, Column, Constant, DryRun, Source
from ..campaigns.plan import FrameMapping
from ..client import Client
from ..content import MESSAGE_TYPES
from ..errors import CamsError
from ..models import WIRE_NAMES
from ..templates import TEMPLATE_TYPES, Template, TemplateSummary
from . import campaign_html as H
from . import fields as F
from . import labels as L
from . import preview as P
from .template_choices import TemplateChoices

__all__ = ["MAX_TEMPLATES", "CampaignModel"]

MAX_TEMPLATES = 20
"""When templates come from columns, variables are listed for this many distinct ones."""
_CHOICES = frozenset({"channel_type", "type", "template_code", "language", "message_type"})


class CampaignModel:
    """A frame, a client, and the mapping between them, kept consistent.

    ``inbound`` (who wrote in lately: a ``ReceiptStore`` fed from the ChatAppInbound queue)
    is passed to the dry run, for its WhatsApp 24-hour window check."""

    def __init__(self, frame: pd.DataFrame, client: Client, *, inbound: Any = None) -> None:
        self.frame = frame
        self.client = client
        self.inbound = inbound
        self.columns: list[Hashable] = list(frame.columns)
        self.templates = TemplateChoices(lambda: client)
        self.failures = self.templates.failures
        """Failed look-ups by channel or (code, language): shown, and not retried."""
        self.dry: DryRun | None = None
        self.dry_error = ""
        self.typed: set[str] = set()
        """Fields and variables whose constant a person typed into (see :meth:`waiting`)."""
        self._remembered: dict[str, Source] = {}
        """Variable choices the user made, kept while another template is chosen."""
        self.mapping = CampaignMapping.auto(self.columns, defaults={"channel_type": "whatsapp",
                                                                    "type": "template"})
        self._prefill()

    # -- editing -----------------------------------------------------------------------------

    def source(self, key: str) -> Source:
        """The source of a field (``to``) or variable (``$(name)``)."""
        if key.startswith("$("):
            return self.mapping.variables.get(key[2:-1])
        return self.mapping.fields[key]

    def assign(self, key: str, source: Source) -> None:
        """Set the source of a field (``to``) or template variable (``name`` or ``$(name)``),
        then keep the rest consistent with it."""
        if not isinstance(self.source(key) if key.startswith("$(") or key in self.mapping.fields
                          else None, Constant):
            self.typed.discard(key)  # a constant chosen anew waits to be typed
        if key in self.mapping.fields:
            if key == "template_code" and isinstance(source, Constant) and source.value:
                source = Constant(self._template_code(source.value))
            self.mapping.fields[key] = source
        else:
            var = key[2:-1] if key.startswith("$(") else key
            if var not in self.mapping.variables:
                raise TypeError(f"{key!r} is neither a field ({', '.join(FIELDS)}) nor a "
                                f"variable of the template(s) in use "
                                f"({', '.join(self.mapping.variables) or 'none'})")
            self.mapping.variables[var] = self._remembered[var] = source
        self.settle()

    def waiting(self) -> dict[str, str]:
        """Constants chosen but not typed yet, by key (``to``, ``$(name)``), each with the
        field its problems name (``To``, ``TemplateParams.name``): the dry run waits for
        them instead of calling every row an error. Choices (channel, template…) are not
        typed, so never wait."""
        found = {}
        sources = [*((n, s) for n, s in self.mapping.fields.items() if self.mapping.applies(n)),
                   *((f"$({v})", s) for v, s in self.mapping.variables.items())]
        for key, source in sources:
            if (isinstance(source, Constant) and source.value == "" and key not in self.typed
                    and key not in _CHOICES):
                found[key] = (f"TemplateParams.{key[2:-1]}" if key.startswith("$(")
                              else WIRE_NAMES.get(key, key))
        return found

    def reveal(self) -> None:
        """The constants waiting for a value are errors now (the confirmation step was asked
        for); one chosen afterwards waits again until it is typed."""
        self.typed.update(self.waiting())

    def choice(self, name: str) -> str | None:
        """The constant of a field ("" when not chosen yet); None when it is not a constant."""
        source = self.mapping.fields[name]
        return source.value if isinstance(source, Constant) else None

    def _prefill(self) -> None:
        """Constants for what no column gave: the channel's first approved template, its
        approved language, the channel's first message type."""
        fields = self.mapping.fields
        channel = self.mapping.constant("channel_type")
        if fields["template_code"] is None and self.mapping.kind == "template":
            fields["template_code"] = Constant(next(
                (s.template_code for s in self.summaries(channel) if s.approved), ""))
        if fields["message_type"] is None:
            fields["message_type"] = Constant(next(iter(MESSAGE_TYPES.get(channel or "", ())), ""))
        if fields["language"] is None:
            fields["language"] = Constant("")
        self.settle()

    def settle(self) -> None:
        """Keep constant choices valid (a template of the channel, a language of the template)
        and the variables those of the template(s) in use."""
        mapping = self.mapping
        channel = mapping.constant("channel_type")
        kinds = [k for _, k in L.kinds(channel)] if channel else []
        if kinds and self.choice("type") not in (None, *kinds):  # Messenger has no templates
            mapping.fields["type"] = Constant(kinds[0])
        types = MESSAGE_TYPES.get(channel or "", ())
        if types and self.choice("message_type") is not None and \
                self.choice("message_type") not in types:
            mapping.fields["message_type"] = Constant(types[0])
        if mapping.kind == "message":
            return
        summaries = self.summaries(channel)
        code, language = self.choice("template_code"), self.choice("language")
        if code and code not in {s.template_code for s in summaries}:  # the channel changed
            code = next((s.template_code for s in summaries if s.approved), "")
            mapping.fields["template_code"] = Constant(code)
        source = mapping.fields["template_code"]
        if isinstance(source, Column) and language == "":  # the first row's template decides
            code = next(iter(self.frame[source.name].dropna().astype(str)), "")
            code = next((s.template_code for s in summaries if code in (s.template_code,
                                                                        s.template_name)), "")
        if code is not None:
            languages = [s for s in summaries if s.template_code == code]
            if language not in [s.language for s in languages]:
                default = next((s.language for s in languages if s.approved), "")
                mapping.fields["language"] = Constant(default)
        mapping.variables = {v: self._remembered[v] if v in self._remembered else
                             CampaignMapping.auto_variable(v, self.columns)
                             for v in self._variables_in_use()}

    # -- templates ---------------------------------------------------------------------------

    def summaries(self, channel: str | None) -> list[TemplateSummary]:
        """Templates of a channel; of every template channel when it comes from a column."""
        rows: list[TemplateSummary] = []
        for name in [channel] if channel else list(TEMPLATE_TYPES):
            rows += self.templates.summaries(name)
        return rows

    def template(self, code: str, language: str) -> Template | None:
        """One template's detail, fetched once; None when it cannot be had (see failures)."""
        summary = next((s for s in self.summaries(None)
                        if code in (s.template_code, s.template_name)
                        and s.language == language), None)
        return self.templates.template(code, language,
                                       summary.template_type if summary is not None else None)

    def template_name(self) -> str | None:
        """The chosen template's name, when the template is one constant."""
        code = self.choice("template_code")
        return next((s.template_name for s in self.summaries(None) if s.template_code == code),
                    None)

    def template_pairs(self) -> list[tuple[str, str]]:
        """The (code, language) pairs the campaign uses: the constants, or the frame's."""
        parts = []
        for name in ("template_code", "language"):
            source = self.mapping.fields[name]
            if isinstance(source, Column):
                parts.append(self.frame[source.name].astype("string"))
            elif isinstance(source, Constant) and source.value:
                parts.append(pd.Series(source.value, index=self.frame.index, dtype="string"))
            else:
                return []
        pairs = pd.DataFrame({"code": parts[0], "language": parts[1]}).dropna().drop_duplicates()
        return [(str(c), str(lang)) for c, lang in pairs.head(MAX_TEMPLATES).itertuples(
            index=False, name=None)]

    def examples(self) -> dict[str, str]:
        """Example values of the variables in use (the templates' own examples)."""
        found: dict[str, str] = {}
        for code, language in self.template_pairs():
            template = self.template(code, language)
            found.update(template.example if template is not None else {})
        return found

    def _variables_in_use(self) -> list[str]:
        names: dict[str, None] = {}
        for code, language in self.template_pairs():
            template = self.template(code, language)
            names.update(dict.fromkeys(template.variables if template is not None else ()))
        return list(names)

    def _template_code(self, wanted: str) -> str:
        """A template given by code or name, as its code (it must be one of the account's)."""
        summaries = self.summaries(self.mapping.constant("channel_type"))
        match = next((s.template_code for s in summaries
                      if wanted in (s.template_code, s.template_name)), None)
        if match is None:
            channel = self.mapping.constant("channel_type")
            for name in [channel] if channel else list(TEMPLATE_TYPES):
                cause = self.templates.errors.get(name)
                if cause is not None:  # the listing failed (credentials…): say that
                    raise cause
            raise ValueError(f"template {wanted!r} is not among this account's "
                             f"{L.channel_name(channel) if channel else 'any'} templates")
        return match

    # -- the dry run and the preview ---------------------------------------------------------

    def check(self) -> DryRun | None:
        """Run the dry run (``validate_frame`` on the mapped frame); None when it fails."""
        args = self.mapping.frame_args(self.frame)
        try:
            problems = validate_frame(args.frame, client=self.client, inbound=self.inbound,
                                      **args.kwargs())
        except (CamsError, ValueError, TypeError) as exc:
            self.dry, self.dry_error = None, f"The dry run failed: {exc}"
        else:
            self.dry, self.dry_error = DryRun.of(self.frame, problems, args), ""
        return self.dry

    def previews(self, n: int) -> Iterator[str]:
        """The first ``n`` rows as chat bubbles (HTML), each with its dry-run problems."""
        args = self.mapping.frame_args(self.frame)
        head = args.frame.head(n)
        try:
            mapping = FrameMapping(list(head.columns), args.constants, args.params)
        except (ValueError, TypeError) as exc:
            yield H.row_html("-", None, P.template_bubble("plain", None), [str(exc)])
            return
        problems = self.dry.problems if self.dry is not None else None
        if problems is not None:
            problems = problems[~problems["field"].isin(list(self.waiting().values()))]
        for label, *values in head.itertuples(index=True, name=None):
            try:
                fields = mapping.fields_for(values)
            except (ValueError, TypeError) as exc:
                yield H.row_html(label, None, P.template_bubble("plain", None), [str(exc)])
                continue
            found = [] if problems is None else [
                f"{p['field']}: {p['message']}" for p in problems.to_dict("records")
                if p["index"] == label]
            yield H.row_html(label, fields.get("to"), self._bubble(fields), found)

    def _bubble(self, fields: dict[str, Any]) -> str:
        channel = str(fields.get("channel_type") or "")
        if fields.get("type", self.mapping.kind) == "message":
            content = fields.get("content")
            if isinstance(content, str):
                try:
                    content = json.loads(content)
                except ValueError:
                    pass
            return P.content_bubble(channel, fields.get("message_type"), content)
        code, language = fields.get("template_code"), fields.get("language")
        template = self.template(str(code), str(language)) if code and language else None
        rendered = template.render(fields.get("template_params")) if template else None
        return P.template_bubble(channel, rendered)


# the widgets' options for the constant of each choice field
def choice_options(model: CampaignModel, name: str) -> list[tuple[str, str]] | None:
    """Options of a field's constant when it is a choice (channel, template…), else None."""
    channel = model.mapping.constant("channel_type")
    if name == "channel_type":
        return L.channel_choices()
    if name == "type":
        return L.kinds(channel) if channel else L.kinds("whatsapp")
    if name == "template_code":
        return F.template_choices(model.summaries(channel))
    if name == "language":
        return F.language_choices(model.summaries(channel), model.choice("template_code") or "")
    if name == "message_type":
        return [(t, t) for t in MESSAGE_TYPES.get(channel or "", ())]
    return None
