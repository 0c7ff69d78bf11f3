"""The JSON parameters of WhatsApp template sends that have a shape of their own:
``ProductAction`` (CATALOG and MPM templates) and ``FlowAction`` (Flow templates).

Each is a small request model with its own wire form (``to_wire``, keys as the SDK 5.3.1 writes
them); :mod:`cams_notebook.models` re-exports them beside the :class:`Message` that holds them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .problems import problem, raise_problems

__all__ = ["REQUEST_MODEL_CONFIG", "FlowAction", "ProductAction", "ProductItem", "ProductSection"]

REQUEST_MODEL_CONFIG = ConfigDict(populate_by_name=True, coerce_numbers_to_str=True,
                                  extra="forbid")
"""The config of every request model: wire (alias) or field names, numbers taken for strings,
no unknown keys."""


class ProductItem(BaseModel):
    model_config = REQUEST_MODEL_CONFIG
    product_retailer_id: str = Field(alias="ProductRetailerId", min_length=1)


class ProductSection(BaseModel):
    model_config = REQUEST_MODEL_CONFIG
    title: str | None = Field(default=None, alias="Title")
    product_items: list[ProductItem] = Field(default_factory=list, alias="ProductItems")

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ProductItems": [{"ProductRetailerId": i.product_retailer_id}
                                                for i in self.product_items]}
        if self.title is not None:
            out["Title"] = self.title
        return out


class ProductAction(BaseModel):
    """Products for WhatsApp CATALOG/MPM templates: at most 10 sections and 30 products."""

    model_config = REQUEST_MODEL_CONFIG
    thumbnail_product_retailer_id: str | None = Field(default=None,
                                                      alias="ThumbnailProductRetailerId")
    sections: list[ProductSection] = Field(default_factory=list, alias="Sections", max_length=10)

    @model_validator(mode="after")
    def _at_most_30_products(self) -> ProductAction:
        total = sum(len(s.product_items) for s in self.sections)
        if total > 30:
            raise_problems("ProductAction", [problem(
                "ProductAction.Sections", "too_many",
                f"has {total} products; at most 30 are allowed")], total)
        return self

    def to_wire(self) -> dict[str, Any]:
        # The SDK always emits Sections (even empty), keys in alphabetical order.
        out: dict[str, Any] = {"Sections": [s.to_wire() for s in self.sections]}
        if self.thumbnail_product_retailer_id is not None:
            out["ThumbnailProductRetailerId"] = self.thumbnail_product_retailer_id
        return out


class FlowAction(BaseModel):
    """Default data and token for a WhatsApp Flow template."""

    model_config = REQUEST_MODEL_CONFIG
    flow_action_data: dict[str, Any] | None = Field(default=None, alias="FlowActionData")
    flow_token: str | None = Field(default=None, alias="FlowToken")

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.flow_action_data is not None:
            out["FlowActionData"] = self.flow_action_data
        if self.flow_token is not None:
            out["FlowToken"] = self.flow_token
        return out
