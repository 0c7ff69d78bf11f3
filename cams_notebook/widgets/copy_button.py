"""A button that copies a text to the clipboard, in the browser, at the click.

Copying has to happen in the page, inside the click (browsers allow clipboard writes from a
user's gesture), so a kernel-side ``on_click`` cannot do it: by the time the kernel answered,
the gesture is over, and ipywidgets' own Button has no front-end code to run. This is an
`anywidget <https://anywidget.dev>`_ widget: the text to copy is a synced trait, so the
page holds it before the click, and its few lines of ES module copy it with
``navigator.clipboard.writeText`` (where the page is not a secure context, with the older
``document.execCommand("copy")``), then report ``copied`` or ``failed`` back to the kernel,
where the composer shows the code and says what happened.

:meth:`CopyButton.click` stands for a click in Python (tests, a script): it reports the click
without touching any clipboard, since there is none outside a browser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

__all__ = ["CopyButton"]

_ESM = """
function copyWithSelection(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let done = false;
  try { done = document.execCommand("copy"); } catch (error) { done = false; }
  area.remove();
  return done;
}

async function copy(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); return true; } catch (error) { /* below */ }
  }
  return copyWithSelection(text);
}

function render({ model, el }) {
  const button = document.createElement("button");
  button.className = "jupyter-widgets jupyter-button widget-button cams-copy-code";
  const icon = document.createElement("i");
  icon.className = "fa fa-copy";
  const words = document.createElement("span");
  button.append(icon, words);
  const show = () => {
    words.textContent = " " + model.get("description");
    button.disabled = model.get("disabled") || !model.get("text");
    button.title = model.get("tooltip");
  };
  button.addEventListener("click", async () => {
    const text = model.get("text");
    if (!text) return;
    const done = await copy(text);
    model.set("copied", done ? "copied" : "failed");
    model.set("clicks", model.get("clicks") + 1);
    model.save_changes();
  });
  model.on("change:description", show);
  model.on("change:disabled", show);
  model.on("change:text", show);
  model.on("change:tooltip", show);
  show();
  el.appendChild(button);
}

export default { render };
"""


class CopyButton(anywidget.AnyWidget):
    """Copies :attr:`text` to the clipboard when clicked in the browser.

    ``on_click(callback)`` runs ``callback(button)`` in the kernel after each click, once
    :attr:`copied` says how it went (``"copied"`` or ``"failed"``).

    >>> button = CopyButton(description="Copy as code", text="print('hi')")
    >>> seen = []
    >>> button.on_click(lambda b: seen.append(b.copied))
    >>> button.click()
    >>> seen
    ['']
    """

    _esm = _ESM
    text = traitlets.Unicode("").tag(sync=True)
    """What a click copies."""
    description = traitlets.Unicode("Copy").tag(sync=True)
    tooltip = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    copied = traitlets.Unicode("").tag(sync=True)
    """How the last copy in the browser went: ``copied``, ``failed``, or ``""``."""
    clicks = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._callbacks: list[Callable[[CopyButton], object]] = []
        self.observe(self._clicked, names="clicks")

    def on_click(self, callback: Callable[[CopyButton], object]) -> None:
        """Call ``callback(button)`` after every click."""
        self._callbacks.append(callback)

    def click(self) -> None:
        """A click from Python: the callbacks run; no clipboard is touched (there is none
        outside a browser), so :attr:`copied` is reset to ``""``."""
        self.copied = ""
        self.clicks += 1

    def _clicked(self, _change: Any) -> None:
        for callback in list(self._callbacks):
            callback(self)
