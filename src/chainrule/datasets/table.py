"""Tables as they come: a CSV file (its delimiter sniffed, its missing cells recognised) or columns
given in Python (a dict of columns, a pandas DataFrame, a list of records, rows in a known column
order), held as named columns of raw cells until a ``chainrule.tabular.Preprocessor`` turns them
into numbers.

A column is a 1-D array: float64 (a column that came as numbers; NaN marks a missing cell) or
object, whose cells are ``None`` (missing), a ``str`` (stripped of surrounding spaces) or a float.
Which cells are missing: an empty one, and the spellings of "no value" that pandas' ``read_csv``
also recognises (``MISSING``, in any case). ``where(i)`` names row i in messages: its line of the
file, or its row index in Python's data.

The delimiter is found by the standard library's ``csv.Sniffer`` (pandas' ``read_csv(sep=None)``
calls the same sniffer), among ``DELIMITERS``, from the first ``SNIFF_CHARS`` characters: the
sniffer's quote-matching regular expression takes time quadratic in its sample, so the sample is
kept short. A file it cannot decide (one column, say) is read with commas.
"""

import csv
import io
import math
import numbers
import os

import numpy as np

from .. import files

__all__ = ["DELIMITERS", "MISSING", "SNIFF_CHARS", "Table", "read_csv"]

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "#n/a"})
DELIMITERS = ",;\t|"
SNIFF_CHARS = 8192
_SHOWN = 5  # cells or columns named in one message before "and N more"


class Table:
    """Named columns of raw cells (see the module's docstring); ``source`` names the data in
    messages ("'data.csv'", "the data"); ``lines[i]`` is row i's line in the file (None: Python's
    data, where a row is named by its index ``rows[i]``)."""

    def __init__(self, columns, source="the data", lines=None, rows=None):
        self.columns = dict(columns)
        self.names = list(self.columns)
        lengths = {len(c) for c in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"the columns of {source} have different lengths ({sorted(lengths)}); "
                             "every column needs one cell per row")
        self.n_rows = lengths.pop() if lengths else 0
        self.source = source
        self.lines = lines
        self.rows = np.arange(self.n_rows) if rows is None else rows
        self._parsed = {}

    def __len__(self):
        return self.n_rows

    def where(self, i):
        """Row i in a message: "line 5 (data row 4)" of a file, "row index 3" of Python's data."""
        if self.lines is None:
            return f"row index {self.rows[i]}"
        return f"line {self.lines[i]} (data row {self.rows[i] + 1})"

    def take(self, index):
        """The rows ``index`` (an integer array or a boolean mask), with their lines."""
        return Table({name: column[index] for name, column in self.columns.items()}, self.source,
                     None if self.lines is None else self.lines[index], self.rows[index])

    def check_column(self, name):
        """ValueError naming the columns there are, when the table has no column ``name``."""
        if name not in self.names:
            raise ValueError(f"{self.source} has no column {name!r}; the columns are: {column_list(self.names)}")

    def missing(self, name):
        """Boolean mask of the missing cells of column ``name``."""
        return self._parse(name)[2]

    def drop_missing(self, names):
        """(the table without the rows that miss a cell in one of ``names``, how many were dropped)."""
        keep = ~np.any([self.missing(name) for name in names], axis=0) if names else np.ones(len(self), bool)
        return self.take(np.flatnonzero(keep)), int(len(self) - keep.sum())

    def count_numbers(self, name):
        """(cells of column ``name`` that are numbers, cells that are not missing)."""
        _, numeric, missing = self._parse(name)
        return int(numeric.sum()), int((~missing).sum())

    def numbers(self, name):
        """Column ``name`` as float64, NaN where a cell is missing; ValueError naming the first cell
        that is not a number, or not a finite one."""
        values, numeric, missing = self._parse(name)
        bad = np.flatnonzero(~numeric & ~missing)
        if bad.size:
            raise ValueError(self._cell_error(name, bad, "is not a number",
                                              f"{int(numeric.sum()):,} other cells of the column are numbers"))
        infinite = np.flatnonzero(np.isinf(values))
        if infinite.size:
            raise ValueError(self._cell_error(name, infinite, "is not a finite number"))
        return values

    def strings(self, name):
        """Column ``name`` as an object array of str, None where a cell is missing."""
        column = self.columns[name]
        if column.dtype.kind == "f":
            return np.array([None if math.isnan(v) else repr(float(v)) for v in column], dtype=object)
        return np.array([cell if cell is None or isinstance(cell, str) else repr(float(cell)) for cell in column],
                        dtype=object)

    def _parse(self, name):
        """(float64 values, mask of the cells that are numbers, mask of the missing ones), computed
        once per column."""
        if name not in self._parsed:
            column = self.columns[name]
            if column.dtype.kind == "f":
                missing = np.isnan(column)
                self._parsed[name] = column, ~missing, missing
            else:
                self._parsed[name] = _parse_cells(column)
        return self._parsed[name]

    def _cell_error(self, name, bad, problem, note=None):
        first = bad[0]
        cell = self.columns[name][first]
        more = f" ({bad.size - 1:,} more such cell(s) in the column{'; ' + note if note else ''})" if bad.size > 1 else (
            f" ({note})" if note else "")
        return f"{self.source} {self.where(first)}, column {name!r}: {_show(cell)} {problem}{more}"

    def describe_missing(self, names):
        """"column 'age' (line 4 (data row 3), …); column …": where ``names`` miss cells ('' if nowhere)."""
        parts = []
        for name in names:
            rows = np.flatnonzero(self.missing(name))
            if rows.size:
                shown = ", ".join(self.where(i) for i in rows[:_SHOWN])
                parts.append(f"column {name!r} ({rows.size:,}: {shown}{', …' if rows.size > _SHOWN else ''})")
        if len(parts) > _SHOWN:
            parts = parts[:_SHOWN] + [f"{len(parts) - _SHOWN} more column(s)"]
        return "; ".join(parts)

    # ---- from Python's data -------------------------------------------------------------------

    @classmethod
    def from_python(cls, data, names=None):
        """A Table from a Table (returned as is), a pandas DataFrame or a dict of columns, a list of
        records (dicts), or rows of cells in the order ``names`` gives."""
        if isinstance(data, Table):
            return data
        if isinstance(data, (str, bytes, os.PathLike)):
            raise ValueError("pass the rows themselves (a DataFrame, a dict of columns, a list of records); "
                             "for a CSV file, read it with chainrule.datasets.read_csv(path)")
        if isinstance(data, dict) or (hasattr(data, "columns") and hasattr(data, "__getitem__")):
            keys = list(data.columns if hasattr(data, "columns") else data)
            return cls(_named({str(key): data[key] for key in keys}, len(keys)))
        rows = list(data)
        if rows and all(isinstance(row, dict) for row in rows):
            keys = list(dict.fromkeys(key for row in rows for key in row))
            return cls(_named({str(key): [row.get(key) for row in rows] for key in keys}, len(keys)))
        return cls(_named(_by_position(rows, names), len(names or ())))


def _named(columns, given):
    if len(columns) != given:
        raise ValueError("two columns have the same name once written as text; rename them apart")
    return {name: _column(values, name) for name, values in columns.items()}


def _by_position(rows, names):
    if names is None:
        raise ValueError("rows without column names need the column order: pass a DataFrame, a dict of "
                         "columns or a list of records instead")
    for i, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not hasattr(row, "__len__") or len(row) != len(names):
            raise ValueError(f"row index {i} has {len(row) if hasattr(row, '__len__') else 'no'} cells; each row "
                             f"needs {len(names)}, one per column: {', '.join(names)}")
    return {name: [row[j] for row in rows] for j, name in enumerate(names)}


def _column(values, name):
    """A column of Python's data as float64 (numbers) or object (None, str, float) cells."""
    try:
        array = np.asarray(values)
    except (ValueError, TypeError):
        array = np.asarray(list(values), dtype=object)
    if array.ndim != 1:
        raise ValueError(f"column {name!r} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind in "iuf":
        return array.astype(np.float64)
    return np.array([_cell(v, name) for v in array], dtype=object)


def _cell(value, name):
    if value is None or type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing markers
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))  # a category, as the text True/False in a CSV file would be
    if isinstance(value, numbers.Real):
        return None if math.isnan(value) else float(value)
    if isinstance(value, str):
        value = value.strip()
        return None if value.lower() in MISSING else value
    raise ValueError(f"column {name!r} holds {value!r} ({type(value).__name__}); cells must be numbers, text or None")


def _parse_cells(column):
    """(float64 values, mask of the number cells, mask of the missing ones) of an object column:
    at C speed when every cell that is not missing is a number, cell by cell otherwise."""
    missing = np.fromiter((cell is None for cell in column), bool, len(column))
    try:
        return np.where(missing, "nan", column).astype(np.float64), ~missing, missing
    except (ValueError, TypeError, OverflowError):
        values = np.full(len(column), np.nan)
        numeric = np.zeros(len(column), bool)
        for i in np.flatnonzero(~missing):
            try:
                values[i], numeric[i] = float(column[i]), True
            except (ValueError, OverflowError):
                pass
        return values, numeric, missing


def _show(cell):
    text = repr(cell) if isinstance(cell, str) else repr(float(cell))
    return text if len(text) <= 40 else text[:37] + "…'"


# ---- CSV files --------------------------------------------------------------------------------


def read_csv(path, delimiter=None):
    """The Table of a CSV file with a header row: its delimiter sniffed among ``DELIMITERS`` unless
    given, a UTF-8 byte-order mark dropped, blank lines skipped, cells and names stripped of spaces,
    an empty column name called "Unnamed: J" as pandas does (J counts from 0).

    Raises ValueError, naming the place, for a missing or empty file, a path that is not a regular
    file (a folder, a FIFO, a device), text that is not UTF-8, a row whose cells do not match the
    header, or two columns of one name.
    """
    path = os.fspath(path)
    source = repr(path)
    raw = files.open_regular(path, "CSV file")
    try:
        with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as f:
            text = f.read()
        delimiter = delimiter or sniff_delimiter(text)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        # (line number, cells) of every row that is not blank
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"cannot read {source} as a CSV file ({e})") from None
    if not rows:
        raise ValueError(f"{source} is empty; expected a header row with the column names, then data rows")
    (_, header), data = rows[0], rows[1:]
    names = [name.strip() or f"Unnamed: {j}" for j, name in enumerate(header)]
    _check_header(names, source, delimiter)
    if not data:
        raise ValueError(f"{source} has a header row but no data rows")
    for line, row in data:
        if len(row) != len(names):
            raise ValueError(f"{source} line {line} has {len(row)} field(s) but the header has {len(names)}; "
                             "every row needs one value per column")
    cells = np.array([[_text_cell(cell) for cell in row] for _, row in data], dtype=object).reshape(len(data), -1)
    lines = np.array([line for line, _ in data])
    return Table({name: cells[:, j] for j, name in enumerate(names)}, source, lines)


def sniff_delimiter(text):
    """The delimiter of CSV ``text`` among ``DELIMITERS``, by ``csv.Sniffer`` on its first
    ``SNIFF_CHARS`` characters (whole lines where there are several); "," when it cannot tell."""
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _text_cell(cell):
    cell = cell.strip()
    return None if cell.lower() in MISSING else cell


def _check_header(names, source, delimiter):
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{source} has {names.count(name)} columns named {name!r}; rename them apart")
        seen.add(name)
    # one column whose name is long or holds another delimiter: most likely a file of another delimiter
    if len(names) == 1 and (len(names[0]) > 40 or any(d in names[0] for d in DELIMITERS if d != delimiter)):
        shown = repr(names[0]) if len(names[0]) <= 40 else f"{names[0][:37]!r}…"
        raise ValueError(f"{source} has one column, named {shown}, when read with the delimiter "
                         f"{delimiter!r}; if its cells are separated by another character, pass it with --delimiter "
                         "(delimiter= in Python)")


def column_list(names, limit=20):
    """"a, b, c" for a message: at most ``limit`` names, each cut to 40 characters."""
    shown = [name if len(name) <= 40 else name[:39] + "…" for name in names[:limit]]
    return ", ".join(shown) + (f", … ({len(names) - limit} more)" if len(names) > limit else "")
