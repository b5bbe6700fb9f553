"""``lessons render``: every step of a lesson as PNG (3D view, and the fluoro shot where the step
has one) and an HTML handout that puts them beside the step's text.

The stepping and the HTML are core. The pictures come from two *renderer* callables,
``view(anatomy, state, path, size)`` and ``fluoro(anatomy, pose, path)``. The defaults use the
app's own renderer (:class:`iddsanatomy.render.scene_renderer.SceneRenderer` on an off-screen
pyvista plotter) and the fluoroscopy DRR; they are looked up by name when the command runs, so
the core never imports VTK. A part that is not available is skipped with a note.
"""

from __future__ import annotations

import html
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ViewRenderer = Callable[[Any, Any, Path, tuple[int, int]], None]
FluoroRenderer = Callable[[Any, Any, Path], None]
_DEFAULT: Any = object()


@dataclass
class HandoutReport:
    html: Path
    n_images: int = 0
    notes: list[str] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)


def default_view_renderer() -> ViewRenderer:
    """Render a SceneState with the app's SceneRenderer on an off-screen plotter."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    # looked up by name: the lessons package must not import the renderer (import contract)
    pv = importlib.import_module("pyvista")
    scene_renderer = importlib.import_module("iddsanatomy.render.scene_renderer")

    def render(anatomy, state, path: Path, size: tuple[int, int]) -> None:
        from dataclasses import fields

        from iddsanatomy.scene import SceneState

        # a private copy: the renderer subscribes to the state it draws
        copy = SceneState(**{f.name: getattr(state, f.name) for f in fields(SceneState)})
        plotter = pv.Plotter(off_screen=True, window_size=size)
        renderer = None
        try:
            renderer = scene_renderer.SceneRenderer(plotter, anatomy, copy)
            plotter.screenshot(str(path))
        finally:
            if renderer is not None:
                renderer.close()
            plotter.close()

    return render


def default_fluoro_renderer() -> FluoroRenderer:
    """Render the DRR of a C-arm pose with the fluoroscopy module's monitor windowing."""
    from iddsanatomy.fluoro import display, drr

    def render(anatomy, pose, path: Path, needle=None) -> None:
        extra = []
        layer = drr.needle_layer_from(needle)
        if layer is not None:
            extra.append(layer)
        sigma = drr.line_integral(anatomy, pose, extra=extra)
        display.save_png(display.window(sigma), path)

    return render


def _anatomy_loader():
    from iddsanatomy.anatomy import load_anatomy

    cache: dict[Any, Any] = {}

    def load(variant):
        key = variant.model_dump_json() if hasattr(variant, "model_dump_json") else repr(variant)
        if key not in cache:
            cache[key] = load_anatomy(variant) if variant is not None else load_anatomy()
        return cache[key]

    return load


def render_handout(
    lesson_path: str | Path,
    out_dir: str | Path,
    size: tuple[int, int] = (800, 600),
    *,
    anatomy_for: Callable[[Any], Any] | None = None,
    view: ViewRenderer | None = _DEFAULT,
    fluoro: FluoroRenderer | None = _DEFAULT,
) -> HandoutReport:
    """Render every step of the lesson at ``lesson_path`` into ``out_dir`` with ``index.html``.

    Parameters
    ----------
    anatomy_for : callable, optional
        ``anatomy_for(variant)`` → the anatomy to draw; default: ``load_anatomy`` (cached).
    view, fluoro : callable or None
        Renderers (see the module docstring); ``None`` skips that picture.
    """
    from iddsanatomy.lessons.loader import load_lesson
    from iddsanatomy.lessons.names import catalog_from_anatomy, default_catalog
    from iddsanatomy.lessons.runner import LessonRunner

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = HandoutReport(out / "index.html")
    lesson = load_lesson(lesson_path, default_catalog())
    anatomy_for = anatomy_for or _anatomy_loader()
    try:
        base_anatomy = anatomy_for(None)
    except Exception as exc:
        base_anatomy = None
        report.notes.append(f"no anatomy could be loaded ({exc}); pictures are skipped")
    if view is _DEFAULT:
        try:
            view = default_view_renderer()
        except Exception as exc:
            view = None
            report.notes.append(f"3D views skipped: the renderer is not available ({exc})")
    if fluoro is _DEFAULT:
        try:
            fluoro = default_fluoro_renderer()
        except Exception as exc:
            fluoro = None
            report.notes.append(f"fluoroscopy shots skipped: not available ({exc})")
    catalog = catalog_from_anatomy(base_anatomy) if base_anatomy is not None else None
    # planned needles are placed on the patient each step draws
    runner = LessonRunner(
        lesson,
        None,
        catalog,
        lesson_path,
        base_anatomy,
        anatomy_for=anatomy_for if base_anatomy is not None else None,
    )
    parts = []
    for i, step in enumerate(lesson.steps):
        runner.jump(i)
        st = runner.state
        problem = runner.needle_problem(i)
        if problem is not None:
            report.notes.append(str(problem))
        anatomy = base_anatomy
        if st.variant is not None and base_anatomy is not None:
            try:
                anatomy = anatomy_for(st.variant)
            except Exception as exc:
                report.notes.append(
                    f"step {step.id}: the patient variant could not be built "
                    f"({exc}); drawn on the default anatomy"
                )
        pics = []
        if view is not None and anatomy is not None:
            path = out / f"{i + 1:02d}_{step.id}_3d.png"
            try:
                view(anatomy, st, path, size)
                pics.append(path)
            except Exception as exc:
                report.notes.append(f"step {step.id}: 3D view failed: {exc}")
        if fluoro is not None and anatomy is not None and st.fluoro_open and st.carm is not None:
            path = out / f"{i + 1:02d}_{step.id}_fluoro.png"
            try:
                pose = st.carm
                if hasattr(pose, "with_") and getattr(pose, "pixels", 512) > 512:
                    pose = pose.with_(pixels=512)
                try:
                    fluoro(anatomy, pose, path, st.needle)
                except TypeError:
                    fluoro(anatomy, pose, path)
                pics.append(path)
            except Exception as exc:
                report.notes.append(f"step {step.id}: fluoroscopy shot failed: {exc}")
        report.images += pics
        parts.append(_step_html(i, step, pics, out))
    report.n_images = len(report.images)
    report.html.write_text(_page(lesson, parts, report.notes), encoding="utf-8")
    return report


def _md(text: str) -> str:
    import markdown

    return markdown.markdown(text or "", extensions=["extra", "sane_lists"])


def _step_html(i: int, step, pics: list[Path], out: Path) -> str:
    imgs = "".join(
        f'<img src="{html.escape(p.relative_to(out).as_posix())}" alt="step {i + 1}">' for p in pics
    )
    q = ""
    if step.question is not None:
        q = f'<div class="q"><b>Question:</b> {_md(step.question.prompt)}'
        opts = getattr(step.question, "options", None)
        if opts and hasattr(opts[0], "text"):
            q += "<ol type='a'>" + "".join(f"<li>{html.escape(o.text)}</li>" for o in opts)
            q += "</ol>"
        q += "</div>"
    return (
        f'<section><h2>{i + 1}. {html.escape(step.title)}</h2><div class="pics">{imgs}</div>'
        f"{_md(step.text)}{q}</section>"
    )


def _page(lesson, parts: list[str], notes: list[str]) -> str:
    objectives = "".join(f"<li>{html.escape(o)}</li>" for o in lesson.objectives)
    refs = "".join(f"<li>{html.escape(r)}</li>" for r in lesson.references)
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(lesson.title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.45; }}
section {{ page-break-inside: avoid; border-top: 1px solid #ccc; padding-top: 1em; }}
.pics img {{ max-width: 48%; margin-right: 1%; border: 1px solid #ddd; }}
.q {{ background: #f4f6fa; padding: .5em 1em; }} .notes {{ color: #a33; }}
</style></head><body>
<h1>{html.escape(lesson.title)}</h1><p>{html.escape(lesson.summary)}</p>
<p><b>Objectives</b></p><ul>{objectives}</ul>
<p>{lesson.minutes} min · {len(lesson.steps)} steps · version {html.escape(lesson.version)}</p>
{"".join(parts)}
<section><h2>References</h2><ul>{refs}</ul></section>
{f'<section class="notes"><h2>Notes</h2><ul>{note_html}</ul></section>' if notes else ""}
</body></html>
"""


__all__ = ["HandoutReport", "render_handout"]
