"""Fixed-width EI files of the legacy generation: JW321 (youth GGZ DBC declaration) and JW322 (its retour).

The definitions are data (legacy-formats.md 0.3): record layouts in ``layouts/*.toml``, code tables in
``filters/tables``, the canonical XSDs in ``schemas/ei``. The pipeline of one file:

    bytes -> parser (transport checks, records) -> canonical XML tree -> XSD -> records -> rules

:mod:`.parser` reads a file into the canonical tree, :mod:`.xsd` generates the XSD of that tree and maps its
errors to the EI codes, :mod:`.records` reads a schema-valid tree into immutable records for the rules
(:mod:`gateway.rules.jw321`), :mod:`.writer` turns a tree or records back into bytes, and :mod:`.stage` ties
them together for :class:`gateway.validation.Validator`. See docs/legacy.md.
"""
