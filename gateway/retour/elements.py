"""Element helpers shared by the XML answer writers: echoing a declaration's elements into the answer's
namespace (text exactly as sent), retour codes and signed amounts."""

from __future__ import annotations

import copy

from lxml import etree

__all__ = ["ElementWriter"]


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class ElementWriter:
    """Element helpers in the namespaces of one answer."""

    def __init__(self, source_ns: str, answer_ns: str, basis_ns: str) -> None:
        self.source_ns = f"{{{source_ns}}}"
        self.answer_ns = answer_ns
        self.basis_ns = basis_ns

    def m(self, name: str) -> str:
        return f"{{{self.answer_ns}}}{name}"

    def b(self, name: str) -> str:
        return f"{{{self.basis_ns}}}{name}"

    def leaf(self, parent: etree._Element, tag: str, text: str | None) -> None:
        etree.SubElement(parent, tag).text = text

    def echo(self, element: etree._Element, name: str | None = None) -> etree._Element:
        """A copy of a 323 element in the 325 namespace (basisschema children keep theirs)."""
        clone = copy.deepcopy(element)
        for el in clone.iter():
            if isinstance(el.tag, str) and el.tag.startswith(self.source_ns):
                el.tag = self.m(_local(el.tag))
        if name is not None:
            clone.tag = self.m(name)
        return clone

    def codes(self, parent: etree._Element, values: tuple[str, ...], limit: int | None = None) -> None:
        holder = etree.SubElement(parent, self.m("RetourCodes"))
        for value in values[:limit]:
            self.leaf(holder, self.m("RetourCode"), value)

    def amount(
        self, parent: etree._Element, tag: str, signed_amount: int, inner: str = "TotaalBedrag"
    ) -> None:
        """``tag`` holding an amount and its DebetCredit (basisschema children)."""
        total = etree.SubElement(parent, tag)
        self.leaf(total, self.b(inner), str(abs(signed_amount)))
        self.leaf(total, self.b("DebetCredit"), "C" if signed_amount < 0 else "D")
