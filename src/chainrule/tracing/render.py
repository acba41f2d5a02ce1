"""Renderers of a worked solution: text (a terminal's aligned tables), markdown, latex, json.

Each takes the blocks of ``derivation.worked`` and shows every number with ``decimals`` places,
or by default with 6 significant digits (scientific notation below 1e-5 and from 1e7); json
always gives every number in full precision. ``decimals`` is at most ``MAX_DECIMALS``. Negative
numbers inside a formula are put in parentheses, so that 0.3·(-0.0376) reads as a product.
"""

import json
import re
import textwrap
from numbers import Integral

import numpy as np

from .derivation import Heading, Text
from .spec import show

__all__ = ["FORMATS", "MAX_DECIMALS", "render", "check_decimals", "number", "text_line"]

FORMATS = ("text", "markdown", "latex", "json")
MAX_DECIMALS = 30

WIDTH = 100


def number(x, decimals=None):
    """x as shown: ``decimals`` places (trailing zeros dropped), or 6 significant digits."""
    x = float(x)
    if decimals is not None:
        s = np.format_float_positional(x, precision=decimals, unique=False, fractional=True, trim="-")
    elif x != 0 and not 1e-5 <= abs(x) < 1e7:
        s = np.format_float_scientific(x, precision=5, unique=False, trim="-")
    else:
        s = np.format_float_positional(x, precision=6, unique=False, fractional=False, trim="-")
    return "0" if s == "-0" else s


def _operand(x, decimals):
    s = number(x, decimals)
    return f"({s})" if s.startswith("-") else s


def _fill(template, numbers, decimals):
    """A formula's template with its numbers (negative ones in parentheses, once: σ(-0.3), not σ((-0.3)))."""
    filled = template.format(**{k: _operand(v, decimals) for k, v in numbers.items()})
    return re.sub(r"\(\((-[^()]+)\)\)", r"(\1)", filled)


def _prose(block, decimals):
    """A paragraph's text with its numbers."""
    return block.text.format(**{k: number(v, decimals) for k, v in block.numbers.items()})


def _row(line, decimals):
    """(label, formula, the formula with numbers, value) — the numbers left out when they are the value."""
    value = number(line.value, decimals)
    filled = _fill(line.template, line.numbers, decimals)
    return line.label, line.formula, "" if filled in (value, f"({value})") else filled, value


def text_line(line, decimals=None):
    """One line as text: label = formula = numbers = value."""
    return " = ".join(part for part in _row(line, decimals) if part)


def render(trace, format, decimals=None):
    """The trace in ``format`` (text, markdown, latex or json)."""
    if format == "json":
        if decimals is not None:
            raise ValueError("decimals rounds what is shown in text, markdown and latex; json always gives "
                             "every number in full precision")
        text = json.dumps(trace.as_dict(), indent=2)
        # each innermost list of numbers on one line: a vector, or a matrix row
        return re.sub(r"\[\s+([^\[\]{}]+?)\s+\]",
                      lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    return {"text": _text, "markdown": _markdown, "latex": _latex}[format](trace.worked(), check_decimals(decimals))


def check_decimals(decimals):
    """``decimals`` as an int from 0 to MAX_DECIMALS, or None; ValueError otherwise."""
    if decimals is None:
        return None
    if not isinstance(decimals, Integral) or isinstance(decimals, bool) or not 0 <= decimals <= MAX_DECIMALS:
        raise ValueError(f"decimals = {show(decimals)} is not valid; expected an integer from 0 to {MAX_DECIMALS} "
                         "(places shown; float64 holds about 16 significant digits)")
    return int(decimals)


# ---- text -------------------------------------------------------------------------------------


def _text(blocks, decimals):
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            rule = {1: "=", 2: "-"}.get(block.level)
            out.append(block.text + ("\n" + rule * len(block.text) if rule else ":"))
        elif isinstance(block, Text):
            body = _prose(block, decimals)
            if block.title:
                out.append(textwrap.fill(f"{block.title}: {body}", WIDTH, initial_indent="  » ",
                                         subsequent_indent="    "))
            else:
                out.append(textwrap.fill(body, WIDTH))
        else:
            rows = [_row(line, decimals) for line in block.lines]
            widths = [max(len(row[c]) for row in rows) for c in range(3)]
            out.append("\n".join(_text_row(row, widths) for row in rows))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _text_row(row, widths):
    label, formula, filled, value = row
    parts = [label.ljust(widths[0]), "= " + formula.ljust(widths[1])]
    parts.append(("= " + filled if filled else "").ljust(widths[2] + 2))
    parts.append("= " + value)
    return "  " + "  ".join(parts)


# ---- markdown ---------------------------------------------------------------------------------

NAME = re.compile(r"(?<![\w.])((?:step\d+\.)?(?:sample\d+\.)?"
                  r"(?:update_gamma|update_beta|gamma_new|beta_new|dgamma|dbeta|gamma|beta|mean|var|xhat|dy|y|"
                  r"update_W|update_b|W_new|b_new|grad_a|delta|error|dW|db|z|a|W|b|x|t)(?:\[[^\]\s]+\])+)")


def _markdown(blocks, decimals):
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + block.text)
        elif isinstance(block, Text):
            body = NAME.sub(r"`\1`", _prose(block, decimals))
            out.append(f"> **{block.title}.** {body}" if block.title else body)
        else:
            rows = ["| quantity | formula | with the numbers | value |", "| --- | --- | --- | ---: |"]
            for label, formula, filled, value in (_row(line, decimals) for line in block.lines):
                rows.append(f"| `{label}` | `{formula}` | {f'`{filled}`' if filled else ''} | {value} |")
            out.append("\n".join(rows))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ---- latex ------------------------------------------------------------------------------------

_SYMBOLS = {
    "·": r"\cdot ", "−": "-", "σ": r"\sigma", "δ": r"\delta", "Δ": r"\Delta ", "′": "'", "η": r"\eta", "½": r"\tfrac{1}{2}", "²": "^2",
    "Σₙ": r"\sum_n", "Σₖ": r"\sum_k", "Σₘ": r"\sum_m", "Σⱼ": r"\sum_j", "Σᵢ": r"\sum_i", "∂": r"\partial ",
    "≤": r"\le ", "±": r"\pm ", "→": r"\to ", "softmax": r"\operatorname{softmax}", "tanh": r"\tanh ",
    "exp": r"\exp ", "log": r"\log ", "max": r"\max ", "λ": r"\lambda ", "Σ": r"\sum ",
    "ε": r"\varepsilon ", "√": r"\surd ", "γ": r"\gamma ", "β": r"\beta ", "x̂": r"\hat{x}",
}
_FUNCTIONS = ("softmax", "tanh", "exp", "log", "max")
_MATH = re.compile(NAME.pattern + f"|(?<![A-Za-z])(?:{'|'.join(_FUNCTIONS)})(?![A-Za-z])|"
                   + "|".join(re.escape(s) for s in _SYMBOLS if s not in _FUNCTIONS))
_LATEX_NAMES = {
    "z": "z", "a": "a", "x": "x", "t": "t", "b": "b", "W": "W", "error": "e", "delta": r"\delta",
    "update_W": r"\Delta W", "update_b": r"\Delta b", "W_new": r"W^{\mathrm{new}}", "b_new": r"b^{\mathrm{new}}",
    "dW": r"\partial W", "db": r"\partial b", "grad_a": r"\partial a",
    "mean": r"\mu", "var": r"\mathrm{var}", "xhat": r"\hat{x}", "y": "y", "gamma": r"\gamma", "beta": r"\beta",
    "dy": r"\partial y", "dgamma": r"\partial\gamma", "dbeta": r"\partial\beta",
    "update_gamma": r"\Delta\gamma", "update_beta": r"\Delta\beta",
    "gamma_new": r"\gamma^{\mathrm{new}}", "beta_new": r"\beta^{\mathrm{new}}",
}


def _latex_name(name):
    """z[1][2] → z^{[1]}_{2};  W[2][1][1] → W^{[2]}_{1,1};  dW[…] → ∂L/∂W…;  sample2.z[1][1] → z^{[1](2)}_{1}."""
    sample = re.match(r"(?:step\d+\.)?(?:sample(\d+)\.)?", name)
    base = name[sample.end():]
    symbol, indices = re.match(r"(\w+?)((?:\[[^\]]+\])+)$", base).groups()
    indices = [i.replace("−", "-").replace("…", r"\ldots") for i in re.findall(r"\[([^\]]+)\]", indices)]
    upper = f"[{indices[0]}]" if len(indices) > 1 else ""
    upper += f"({sample.group(1)})" if sample.group(1) else ""
    lower = ",".join(indices[1:] if len(indices) > 1 else indices)
    core = _LATEX_NAMES[symbol]
    if symbol in ("dW", "db", "grad_a", "dy", "dgamma", "dbeta"):
        return rf"\frac{{\partial L}}{{{core}^{{{upper}}}_{{{lower}}}}}"
    # one group, so that a square after it (W[1][1][1]², the L2 penalty) is no double superscript
    return f"{{{{{core}}}" + (f"^{{{upper}}}" if upper else "") + f"_{{{lower}}}}}"


# the loss's parts with l2, as names in a formula (in prose they stay words)
_SCALARS = {"loss": "L", "data_loss": r"L_{\mathrm{data}}", "penalty": r"L_{\mathrm{L2}}"}
_FORMULA = re.compile(r"\b(?:data_loss|penalty)\b|" + _MATH.pattern)


def _math(text):
    """A formula (or a name, or a number) in LaTeX."""
    def one(m):
        if m.group(0) in _SCALARS:
            return _SCALARS[m.group(0)]
        return _latex_name(m.group(1)) if m.group(1) else _SYMBOLS[m.group(0)]

    return _FORMULA.sub(one, text)


def _latex_text(text):
    """Prose with its names and symbols as inline math, everything else escaped."""
    out, last = [], 0
    for m in _MATH.finditer(text):
        out.append(_escape(text[last:m.start()]) + "$" + _math(m.group(0)) + "$")
        last = m.end()
    return "".join(out) + _escape(text[last:])


def _escape(text):
    text = re.sub(r"([&%$#_{}])", r"\\\1", text).replace("~", r"\textasciitilde{}").replace("^", r"\^{}")
    return text.replace("—", "---").replace("…", r"\ldots{}")


def _latex(blocks, decimals):
    out = [r"\documentclass{article}", r"\usepackage{amsmath}", r"\usepackage[margin=2cm]{geometry}",
           r"\allowdisplaybreaks", r"\begin{document}", ""]
    for block in blocks:
        if isinstance(block, Heading):
            command = {1: "section", 2: "subsection"}.get(block.level, "subsubsection")
            out.append(rf"\{command}*{{{_latex_text(block.text)}}}")
        elif isinstance(block, Text):
            body = _latex_text(_prose(block, decimals))
            out.append(rf"\paragraph{{{_latex_text(block.title)}.}} {body}" if block.title else body)
        else:
            rows = [r"\begin{align*}"]
            for label, formula, filled, value in (_row(line, decimals) for line in block.lines):
                numbers = f" = {_math(filled)}" if filled else ""
                name = _SCALARS.get(label) or _math(label)
                rows.append(rf"{name} &= {_math(formula)} \\ &{numbers} = {value} \\[2pt]")
            rows[-1] = rows[-1].removesuffix(r" \\[2pt]")
            out.append("\n".join(rows + [r"\end{align*}"]))
        out.append("")
    return "\n".join(out + [r"\end{document}"]) + "\n"
