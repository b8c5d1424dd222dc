"""Plots: whole-number epochs, readable log axes, the held-out split named, the format the file name says."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.see import plots

pytest.importorskip("matplotlib")


def history(epochs: int = 3) -> cr.History:
    h = cr.History()
    for epoch in range(1, epochs + 1):  # a short regression run: losses within one decade
        h.append(
            epoch,
            {
                "loss": 0.9 - 0.1 * epoch,
                "val_loss": 0.8 - 0.05 * epoch,
                "r2": 0.3 + 0.1 * epoch,
                "val_r2": 0.2 + 0.1 * epoch,
            },
        )
    return h


@pytest.mark.parametrize(
    "suffix, magic", [(".png", b"\x89PNG"), (".jpg", b"\xff\xd8\xff"), (".pdf", b"%PDF"), (".svg", b"<?xml")]
)
def test_history_plot_writes_the_format_its_name_says(tmp_path, suffix, magic):
    path = tmp_path / f"curves{suffix}"
    assert history().plot(str(path)) == str(path)
    assert path.read_bytes().startswith(magic)


@pytest.mark.parametrize("name", ["curves.xyz", "curves"])
def test_a_name_matplotlib_cannot_write_is_refused_before_anything_is_written(tmp_path, name):
    with pytest.raises(ValueError, match="the name must end in one of .*\\.png"):
        history().plot(str(tmp_path / name))
    assert list(tmp_path.iterdir()) == []


def test_the_held_out_split_is_called_what_it_is(tmp_path):
    from matplotlib import rc_context

    with rc_context({"svg.fonttype": "none"}):  # text as text, so the test can read it
        history().plot(str(tmp_path / "a.svg"), held_out="test")
        history().plot(str(tmp_path / "b.svg"))
    test_svg, default_svg = (tmp_path / "a.svg").read_text(), (tmp_path / "b.svg").read_text()
    assert ">test<" in test_svg and ">validation<" not in test_svg and ">training<" in test_svg
    assert ">validation<" in default_svg


def test_short_runs_get_whole_epoch_ticks_and_a_log_axis_within_a_decade_gets_several_labels():
    fig = plots.matplotlib_figure(4, 3)
    ax = fig.subplots()
    values = [0.8, 0.7, 0.65]
    ax.plot([1, 2, 3], values)
    plots.integer_ticks(ax)
    plots.log_axis(ax, values)
    fig.canvas.draw()
    low, high = ax.get_xlim()
    shown = [t for t in ax.get_xticks() if low <= t <= high]
    assert shown and all(float(t).is_integer() for t in shown)
    bottom, top = ax.get_ylim()
    labels = [t.get_text() for t, v in zip(ax.get_yticklabels(), ax.get_yticks()) if bottom <= v <= top]
    assert len([t for t in labels if t]) >= 3, labels


def test_chinese_labels_need_a_chinese_font():
    lang, _ = plots.text_context("zh")
    font = plots.cjk_font()
    assert (lang == "zh") == (font is not None)
    assert plots.text_context("en")[0] == "en"
    if font is None:
        pytest.skip("no font with Chinese glyphs (CI installs fonts-wqy-microhei)")
