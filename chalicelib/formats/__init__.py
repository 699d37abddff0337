"""Pure parsers for dropped invoice files (CSV with column mappings, JSON, JSON Lines, UBL 2.1)."""

from chalicelib.formats.mapping import Mapping, MappingError, builtin_mappings, get_mapping
from chalicelib.formats.parse import parse_file
from chalicelib.formats.records import ParsedFile, ParsedItem, RowError, SourceRecord, UnreadableFile

__all__ = [
    "Mapping",
    "MappingError",
    "ParsedFile",
    "ParsedItem",
    "RowError",
    "SourceRecord",
    "UnreadableFile",
    "builtin_mappings",
    "get_mapping",
    "parse_file",
]
