"""Tabulated material functions y(x): smooth monotone interpolation, linear extrapolation.

A `Table` interpolates with a piecewise-cubic Hermite interpolant that preserves
monotonicity (PCHIP), so a monotone OCV table gives a monotone OCV and no overshoot between
points. Beyond the ends it continues along a straight line with the end slope, so the value
and its first derivative are continuous everywhere (an OCV keeps falling past its last
point). With ``log=True`` the interpolation is done on ln(y) (for diffusivities and
conductivities that span decades); y is then exp of the interpolant, and beyond the ends y
holds its end value: a trend over decades is not continued past the data that show it (an
exponential extrapolation of the LiCoO2 diffusivity past its last point at x = 0.933 made
the film ~2x faster at x = 0.99 than anything measured).

Table files are CSV: '#' lines are comments (they carry the source of the data), an optional
header line names the two columns, then one row "x,y" per point, in SI units. PyBaMM's data
files read as they are: comments anywhere (also between rows), the column names as a
header row or as a comment, spaces around the values, CRLF line ends. Any x strictly increasing and any
finite y can be interpolated: flat stretches (equal consecutive y) are kept flat. A file of
another layout (';' or tabs between the values, decimal commas, more columns, a trailing ',')
is refused naming its first row that is not x,y and what is wrong with it.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG

import numpy as np

from ..errors import InputError
from ..files import read_text

TABLE_LAYOUT = ("a CSV table: comment lines '#...', an optional header line, then rows of "
                "2 columns separated by ',', two finite numbers x,y")
# separators of other table layouts, named in messages (a line is never shown)
SEPARATORS = ((";", "';'"), ("\t", "tabs"), ("|", "'|'"), (" ", "spaces"))


class Table:
    """y(x) from points; callable and differentiable, vectorised over x."""

    def __init__(self, x, y, *, log: bool = False, name: str = "table",
                 columns: tuple[str, str] = ("x", "y"), notes: tuple[str, ...] = (),
                 path: Path | None = None):
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if x.ndim != 1 or y.ndim != 1 or x.size != y.size:
            raise ValueError(f"{name}: x and y must be 1-D arrays of equal length")
        if x.size < 2:
            raise ValueError(f"{name}: a table needs at least two points")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError(f"{name}: every x and y must be a finite number")
        if np.any(np.diff(x) <= 0):
            raise ValueError(f"{name}: x must be strictly increasing")
        if log and np.any(y <= 0):
            raise ValueError(f"{name}: a log-interpolated table needs y > 0")
        self.x = x
        self.y = y
        self.x.setflags(write=False)
        self.y.setflags(write=False)
        self.log = bool(log)
        self.name = name
        self.columns = tuple(columns)
        self.notes = tuple(notes)
        self.path = path
        values = np.log(y) if self.log else y
        c = hermite_coefficients(x, values, pchip_slopes(x, values))
        # the cubic pieces' coefficients, then those of their derivative (3 c0, 2 c1; c2)
        self._coefficients = np.vstack([c, 3.0 * c[0], 2.0 * c[1]])
        self._v0, self._v1 = float(values[0]), float(values[-1])
        self._x0, self._x1 = float(x[0]), float(x[-1])
        self._interior = x[1:-1]            # searched for the piece of each q
        # end slopes of the extrapolation: linear tables continue, log tables hold
        h_last = x[-1] - x[-2]
        self._s0 = 0.0 if self.log else float(c[2, 0])
        self._s1 = 0.0 if self.log else float((3.0 * c[0, -1] * h_last + 2.0 * c[1, -1])
                                              * h_last + c[2, -1])

    # -- evaluation ------------------------------------------------------------------
    def _values(self, q: np.ndarray):
        """The interpolant v(q) (ln y when log) and dv/dq, continued linearly outside.

        Evaluated from the cubic pieces' coefficients directly: the solver calls this at
        every Newton iteration, where scipy's general-purpose evaluation costs more than the
        arithmetic.
        """
        x = self.x
        inside = np.minimum(np.maximum(q, self._x0), self._x1)  # (np.clip costs 5x more)
        # the piece x[k] <= q < x[k+1], the last one up to x[-1] (and for NaN)
        piece = self._interior.searchsorted(inside, side="right")
        h = inside - x[piece]
        c0, c1, c2, c3, d0, d1 = np.take(self._coefficients, piece, axis=1)
        v = ((c0 * h + c1) * h + c2) * h + c3
        dv = (d0 * h + d1) * h + c2
        # some q beyond the ends? (compared as bytes: (inside != q).any() costs 5x more on
        # the few values of a Newton iteration; a NaN, equal to itself here, changes nothing)
        if inside.tobytes() != q.tobytes():
            below, above = q < x[0], q > x[-1]
            v = np.where(below, self._v0 + self._s0 * (q - x[0]), v)
            v = np.where(above, self._v1 + self._s1 * (q - x[-1]), v)
            dv = np.where(below, self._s0, np.where(above, self._s1, dv))
        return v, dv

    def evaluate(self, x):
        """(y(x), dy/dx(x)) in one pass, vectorised."""
        q = np.asarray(x, dtype=float)
        v, dv = self._values(q)
        if self.log:
            y = np.exp(v)
            return y, y * dv
        return v, dv

    def __call__(self, x):
        q = np.asarray(x, dtype=float)
        v, _ = self._values(q)
        y = np.exp(v) if self.log else v
        return float(y) if np.ndim(y) == 0 else y

    def derivative(self, x):
        """dy/dx at x (same shape as x)."""
        q = np.asarray(x, dtype=float)
        v, dv = self._values(q)
        d = np.exp(v) * dv if self.log else dv
        return float(d) if np.ndim(d) == 0 else d

    def integral(self, pieces: int = 16) -> "Antiderivative":
        """Phi(x) = integral of y from the first point to x, with dPhi/dx, as a callable."""
        return Antiderivative(self, pieces)

    # -- description ---------------------------------------------------------------------
    @property
    def x_range(self) -> tuple[float, float]:
        return float(self.x[0]), float(self.x[-1])

    def is_strictly_decreasing(self) -> bool:
        return bool(np.all(np.diff(self.y) < 0))

    def is_non_increasing(self) -> bool:
        return bool(np.all(np.diff(self.y) <= 0))

    def is_strictly_increasing(self) -> bool:
        return bool(np.all(np.diff(self.y) > 0))

    def __len__(self) -> int:
        return int(self.x.size)

    def __repr__(self) -> str:
        where = f" from {self.path.name}" if self.path is not None else ""
        return (f"Table({self.name}{where}: {len(self)} points, "
                f"x in [{self.x[0]:g}, {self.x[-1]:g}], y in [{self.y.min():g}, {self.y.max():g}]"
                f"{', log' if self.log else ''})")


def pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The slopes at the points of the monotone piecewise-cubic Hermite interpolant
    (Fritsch & Butland 1984, as scipy's PchipInterpolator): 0 where the secants change sign
    or one is flat, else their weighted harmonic mean; at the ends a three-point one-sided
    estimate, kept within the monotone range. Computed here rather than by scipy: importing
    scipy.interpolate costs every process about 0.2 s (it pulls scipy.special and
    scipy.optimize), a third of the command line's start (tests/test_table.py checks both
    agree)."""
    h = np.diff(x)
    secant = np.diff(y) / h
    if x.size == 2:
        return np.array([secant[0], secant[0]])
    slopes = np.empty_like(y)
    before, after = secant[:-1], secant[1:]
    w_before, w_after = 2.0 * h[1:] + h[:-1], h[1:] + 2.0 * h[:-1]
    flat_or_turning = ((np.sign(before) != np.sign(after)) | (before == 0.0)
                       | (after == 0.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inverse_mean = (w_before / before + w_after / after) / (w_before + w_after)
        slopes[1:-1] = np.where(flat_or_turning, 0.0, 1.0 / inverse_mean)
    slopes[0] = _pchip_end_slope(h[0], h[1], secant[0], secant[1])
    slopes[-1] = _pchip_end_slope(h[-1], h[-2], secant[-1], secant[-2])
    return slopes


def _pchip_end_slope(h0, h1, m0, m1) -> float:
    """The one-sided three-point slope at an end, limited so the end piece stays monotone."""
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > abs(3.0 * m0):
        return 3.0 * m0
    return d


def hermite_coefficients(x: np.ndarray, y: np.ndarray, slopes: np.ndarray) -> np.ndarray:
    """The cubic Hermite pieces through (x, y) with the given slopes: row j holds the
    coefficient of (q - x[k])**(3 - j) on piece k (scipy's PPoly layout)."""
    h = np.diff(x)
    secant = np.diff(y) / h
    t = (slopes[:-1] + slopes[1:] - 2.0 * secant) / h
    return np.vstack([t / h, (secant - slopes[:-1]) / h - t, slopes[:-1], y[:-1]])


class Antiderivative:
    """Phi(q) = integral of a Table's y from x[0] to q, and dPhi/dq, vectorised.

    Each interval of the table is cut into `pieces` equal parts; Phi at their ends is the
    4-point Gauss-Legendre integral of y over each part, and between them Phi is the cubic
    Hermite interpolant with slopes y: dPhi/dq equals y at every node and follows it to
    within the quadrature error between them (1e-9 relative on the library's tables), and
    is itself the exact derivative of the Phi returned. Beyond the ends y follows the
    table's extrapolation (held for log tables, linear otherwise), integrated exactly.
    """

    _GAUSS = np.polynomial.legendre.leggauss(4)

    def __init__(self, table: Table, pieces: int = 16):
        self.table = table
        t = np.linspace(0.0, 1.0, pieces + 1)[:-1]
        x = table.x
        nodes = np.concatenate([x[:-1, None] + t * np.diff(x)[:, None], x[-1:, None]],
                               axis=None)
        y = table(nodes)
        points, weights = self._GAUSS
        a, b = nodes[:-1], nodes[1:]
        half = 0.5 * (b - a)
        samples = table(0.5 * (a + b)[:, None] + half[:, None] * points)
        phi = np.concatenate([[0.0], np.cumsum(half * (samples @ weights))])
        self.nodes = nodes
        self._ends = (float(phi[0]), float(phi[-1]))
        self._coefficients = hermite_coefficients(nodes, phi, y)
        self._x0, self._x1 = float(nodes[0]), float(nodes[-1])

    def __call__(self, q):
        """(Phi(q), dPhi/dq(q))."""
        q = np.asarray(q, dtype=float)
        nodes, c = self.nodes, self._coefficients
        inside = np.minimum(np.maximum(q, self._x0), self._x1)     # (np.clip costs 5x more)
        piece = np.minimum(np.maximum(np.searchsorted(nodes, inside, side="right") - 1, 0),
                           nodes.size - 2)
        h = inside - nodes[piece]
        c0, c1, c2, c3 = c[0, piece], c[1, piece], c[2, piece], c[3, piece]
        phi = ((c0 * h + c1) * h + c2) * h + c3
        dphi = (3.0 * c0 * h + 2.0 * c1) * h + c2
        below, above = q < nodes[0], q > nodes[-1]
        if below.any() or above.any():
            table = self.table
            x0, x1 = nodes[0], nodes[-1]
            y0, y1 = table(np.array([x0, x1]))
            s0 = 0.0 if table.log else table._s0
            s1 = 0.0 if table.log else table._s1
            d0, d1 = q - x0, q - x1
            phi = np.where(below, self._ends[0] + y0 * d0 + 0.5 * s0 * d0 * d0, phi)
            phi = np.where(above, self._ends[1] + y1 * d1 + 0.5 * s1 * d1 * d1, phi)
            dphi = np.where(below, y0 + s0 * d0, np.where(above, y1 + s1 * d1, dphi))
        return phi, dphi


def read_table(path: Path, key: str, *, log: bool = False, name: str | None = None) -> Table:
    """Read a two-column CSV table; every problem is an InputError naming `key` and the path.

    Lines starting with '#' are comments; an optional header of two column names may come
    first (without one, as in PyBaMM's data files, the columns are named by the last comment
    of two comma-separated parts, else "x" and "y"). Messages name the line and never show
    its content: a table path may point at any file. A file read before, unchanged since,
    gives the same (immutable) Table: a fit or a sweep builds many cases from one.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        stat = None
    if stat is None or not S_ISREG(stat.st_mode):
        read_text(path, key, "table file (CSV: rows x,y)")   # raises the InputError that fits
    return _read_table(path, key, log, name, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _read_table(path: Path, key: str, log: bool, name, mtime_ns, size) -> Table:
    shown = str(path)
    text = read_text(path, key, "table file (CSV: rows x,y)")

    notes: list[str] = []
    header: tuple[int, str, list[str]] | None = None    # (line number, line, names)
    xs: list[float] = []
    ys: list[float] = []
    # a byte-order mark (spreadsheet exports) would turn a first data row into a header
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            notes.append(line.lstrip("#").strip())
            continue
        cells = [c.strip() for c in line.split(",")]
        if header is None and not xs and not _all_numbers(line):
            header = (number, line, cells)
            continue
        problem = _row_problem(cells, line)
        if problem:
            raise InputError(key, shown, f"{TABLE_LAYOUT} (line {number}: {problem})")
        xs.append(float(cells[0]))
        ys.append(float(cells[1]))
    # a header is judged after the rows: a row's separator, not the header, is what is wrong
    # in a file of another layout (tabs, ';', three columns)
    if header is not None and (len(header[2]) != 2 or not all(header[2])):
        number, line, names = header
        problem = _columns_problem(names, line) or "an empty name"
        raise InputError(key, shown, f"{TABLE_LAYOUT} (line {number}, the header: {problem})")
    if len(xs) < 2:
        raise InputError(key, shown, f"a CSV table with at least two rows x,y (it has "
                                     f"{len(xs)})")
    columns = tuple(header[2]) if header is not None else _columns_from_notes(notes)
    try:
        return Table(xs, ys, log=log, name=name or path.stem, columns=columns,
                     notes=tuple(notes), path=path)
    except ValueError as exc:
        raise InputError(key, shown, f"a valid table ({exc})") from None


def _row_problem(cells: list[str], line: str) -> str:
    """What keeps a line from being a row x,y ('' when nothing does); never its content."""
    problem = _columns_problem(cells, line)
    if problem:
        return problem
    bad = [k for k, cell in enumerate(cells) if not _is_number(cell)]
    if not bad:
        return ""
    names = " and ".join("xy"[k] for k in bad)
    text = f"{names} {'is' if len(bad) == 1 else 'are'} not a finite number"
    separator = _foreign_separator(" ".join(cells[k] for k in bad))
    if separator:       # '0,3;5e-15': decimal commas
        text += (f"; it holds {separator}: the values are separated by ',' and use '.' as "
                 f"decimal point")
    return text


def _columns_problem(cells: list[str], line: str) -> str:
    """What is wrong with the number of comma-separated columns of a line ('' if 2)."""
    count = len(cells)
    if count == 2:
        return ""
    text = f"{count} column{'s' if count > 1 else ''}, not 2 separated by ','"
    if count == 1:
        separator = _foreign_separator(line)
        return text + (f": its fields are separated by {separator}" if separator else "")
    blank = count - 1 - max((k for k, cell in enumerate(cells) if cell), default=0)
    if blank:
        text += f": the last {'is' if blank == 1 else f'{blank} are'} empty, from a trailing ','"
    return text


def _foreign_separator(line: str) -> str:
    """The name of a separator other than ',' that the line holds, or ''."""
    for mark, name in SEPARATORS:
        if mark in line:
            return name
    return ""


def _all_numbers(line: str) -> bool:
    """Whether every word of the line, split at any separator, is a number: such a line is a
    (malformed) row, not a header."""
    words = [w for w in re.split(r"[,;|\s]+", line) if w]
    return all(_parses(w) for w in words)


def _columns_from_notes(notes: list[str]) -> tuple[str, str]:
    """Column names from the last comment of exactly two comma-separated parts."""
    for note in reversed(notes):
        parts = [p.strip() for p in note.split(",")]
        if len(parts) == 2 and all(parts) and not any(_is_number(p) for p in parts):
            return parts[0], parts[1]
    return "x", "y"


def _is_number(text: str) -> bool:
    return _parses(text) and math.isfinite(float(text))


def _parses(text: str) -> bool:
    """Whether float() reads the text (also 'nan' and 'inf')."""
    try:
        float(text)
    except ValueError:
        return False
    return True
