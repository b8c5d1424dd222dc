"""Plots a learner can read: whole-number step and epoch ticks, log axes with enough labels,
text in the chosen language, saved in the format the file name asks for.

Used by ``chainrule demo`` (the loss during gradient descent) and
``History.plot`` (training curves). Matplotlib is used without pyplot (no GUI
backend, no global state). Chinese text needs a font with Chinese glyphs;
``cjk_font`` finds one (WenQuanYi, Noto Sans CJK, Source Han Sans, ...), and
without one the labels fall back to English rather than print empty boxes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
)


def matplotlib_figure(width: float, height: float, dpi: int = 110) -> Any:
    """A bare matplotlib Figure with an Agg canvas; ImportError saying what to install without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plots need matplotlib: pip install matplotlib (or pip install 'chainrule[viz]')") from None
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def check_format(path: str | Path) -> str:
    """The format the file name asks for, if matplotlib can write it; else a ValueError listing them."""
    suffix = Path(path).suffix.lower().lstrip(".")
    supported = _supported_formats()
    if suffix not in supported:
        choices = ", ".join("." + s for s in sorted(supported))
        what = f"'.{suffix}'" if suffix else "no extension"
        raise ValueError(f"cannot save a plot as '{path}' ({what}): the name must end in one of {choices}")
    return suffix


def _supported_formats() -> set[str]:
    fig = matplotlib_figure(1, 1)
    return set(fig.canvas.get_supported_filetypes())


def save(fig: Any, path: str | Path) -> str:
    """Write ``fig`` in the format its file name says (checked first: nothing is written on a bad name)."""
    fmt = check_format(path)
    fig.savefig(path, format=fmt)
    return str(path)


def cjk_font() -> str | None:
    """The name of an installed font with Chinese glyphs, or None."""
    try:
        from matplotlib import font_manager
    except ImportError:
        return None
    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    if found is None:  # fonts installed after matplotlib built its cache
        for path in font_manager.findSystemFonts():
            if any(word in Path(path).name.lower() for word in ("wqy", "notosanscjk", "sourcehansans")):
                font_manager.fontManager.addfont(path)
        installed = {f.name for f in font_manager.fontManager.ttflist}
        found = next((name for name in CJK_FONTS if name in installed), None)
    return found


def text_context(lang: str) -> tuple[str, Any]:
    """(the language the plot's text can be written in, a context that sets its font)."""
    if lang != "zh":
        return lang, nullcontext()
    font = cjk_font()
    if font is None:
        return "en", nullcontext()
    from matplotlib import rc_context

    return "zh", rc_context(
        {"font.family": "sans-serif", "font.sans-serif": [font, "DejaVu Sans"], "axes.unicode_minus": False}
    )


def integer_ticks(ax: Any) -> None:
    """Ticks only at whole numbers on the x axis (no epoch 1.5)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def log_axis(ax: Any, values: Sequence[float]) -> None:
    """A log y axis with at least three labelled ticks, even when the values span under a decade."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    ax.set_yscale("log")
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive:
        return
    decades = math.log10(max(positive)) - math.log10(min(positive))
    if decades < 0.6:  # under a factor of 4: evenly spaced round numbers read best
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    else:
        subs = (1.0,) if decades >= 3 else (1.0, 2.0, 5.0) if decades >= 1 else tuple(float(i) for i in range(1, 10))
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
