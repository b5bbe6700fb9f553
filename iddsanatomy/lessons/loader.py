"""Read lesson and question-bank files safely and say exactly what is wrong with them.

* YAML is read with PyYAML's *safe* loader only (the same loader as ``yaml.safe_load``; we compose
  the node tree first so that every problem can name its line and column). Nothing in a file is
  executed.
* Files over :data:`MAX_BYTES` are refused unread; documents whose aliases expand past
  :data:`MAX_NODES` nodes ("billion laughs") or refer to themselves are refused before they are
  built; a key written twice in one mapping is an error (YAML would silently keep the last).
* Every problem is a :class:`Problem`: file, line, column, field path, message, what was expected
  and an example. A broken file never stops discovery of the others.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from iddsanatomy.errors import LessonError
from iddsanatomy.lessons import names

MAX_BYTES = 1_000_000
MAX_NODES = 200_000
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Problem:
    """One located problem in a lesson or bank file."""

    file: str
    line: int
    column: int
    field: str
    message: str
    expected: str = ""
    example: str = ""

    def format(self) -> str:
        head = f"{self.file}:{self.line}:{self.column}: "
        head += f"{self.field}: {self.message}" if self.field else self.message
        lines = [head]
        if self.expected:
            lines.append(f"    expected: {self.expected}")
        if self.example:
            ex = self.example.rstrip("\n").replace("\n", "\n              ")
            lines.append(f"    example:  {ex}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


class LessonLoadError(LessonError):
    """A lesson or bank could not be loaded; ``problems`` lists every located problem."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(
            f"{n} problem{'s' if n != 1 else ''}:\n" + "\n".join(p.format() for p in self.problems)
        )


# --- YAML with positions -----------------------------------------------------------------------


def _mark(node: yaml.Node | None) -> tuple[int, int]:
    if node is None:
        return 1, 1
    return node.start_mark.line + 1, node.start_mark.column + 1


def _expanded_size(root: yaml.Node, file: str) -> list[Problem]:
    """Refuse alias bombs and self-referencing aliases before anything is constructed."""
    memo: dict[int, int] = {}
    stack: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in memo:
            return memo[key]
        if key in stack:
            raise RecursionError(node)
        stack.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_NODES:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                total += size(v)
                if total > MAX_NODES:
                    break
        stack.discard(key)
        memo[key] = total
        return total

    try:
        n = size(root)
    except RecursionError as exc:
        node = exc.args[0] if exc.args and isinstance(exc.args[0], yaml.Node) else root
        line, col = _mark(node)
        return [
            Problem(
                file,
                line,
                col,
                "",
                "an alias refers to itself (a recursive YAML document)",
                "plain data without recursive anchors",
            )
        ]
    if n > MAX_NODES:
        return [
            Problem(
                file,
                1,
                1,
                "",
                f"the document expands to more than {MAX_NODES} values through YAML aliases "
                "(an alias bomb?) and was refused",
                "a lesson written out plainly; anchors (&) and aliases (*) only for small reuse",
            )
        ]
    return []


def _duplicate_keys(root: yaml.Node, file: str) -> list[Problem]:
    out: list[Problem] = []
    seen_nodes: set[int] = set()

    def walk(node: yaml.Node, path: str) -> None:
        if id(node) in seen_nodes:
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[Any, yaml.Node] = {}
            for k, v in node.value:
                kv = k.value if isinstance(k, yaml.ScalarNode) else None
                if kv is not None and kv != "<<":
                    if kv in keys:
                        line, col = _mark(k)
                        first = keys[kv].start_mark.line + 1
                        out.append(
                            Problem(
                                file,
                                line,
                                col,
                                f"{path}.{kv}".lstrip("."),
                                f"the key {kv!r} is written twice (first on line {first})",
                                "each key once per mapping",
                            )
                        )
                    keys[kv] = k
                walk(v, f"{path}.{kv}")
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, f"{path}[{i}]")

    walk(root, "")
    return out


def read_yaml(path: str | Path) -> tuple[Any, yaml.Node | None, list[Problem]]:
    """Read ``path`` safely: ``(data, root node, problems)``; data is ``None`` on any problem."""
    path = Path(path)
    file = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, None, [Problem(file, 1, 1, "", f"cannot read the file: {exc.strerror}")]
    if size > MAX_BYTES:
        return (
            None,
            None,
            [
                Problem(
                    file,
                    1,
                    1,
                    "",
                    f"the file is {size / 1e6:.1f} MB; lessons are limited to "
                    f"{MAX_BYTES / 1e6:.0f} MB and were refused unread",
                    "a smaller file: split the lesson, put pictures in image files",
                )
            ],
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return (
            None,
            None,
            [
                Problem(
                    file,
                    1,
                    1,
                    "",
                    f"the file is not UTF-8 text (byte {exc.start})",
                    "a UTF-8 encoded YAML file",
                )
            ],
        )
    except OSError as exc:
        return None, None, [Problem(file, 1, 1, "", f"cannot read the file: {exc.strerror}")]
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return (
                None,
                None,
                [
                    Problem(
                        file,
                        1,
                        1,
                        "",
                        "the file is empty",
                        "a lesson: see lessons/README.md",
                        "schema_version: 1",
                    )
                ],
            )
        problems = _expanded_size(root, file)
        if problems:
            return None, root, problems
        problems = _duplicate_keys(root, file)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        msg = " ".join(x for x in (exc.context, exc.problem) if x)
        return (
            None,
            None,
            [
                Problem(
                    file,
                    line,
                    col,
                    "",
                    f"YAML syntax error: {msg}",
                    "valid YAML: 'key: value', lists with '- ', consistent indentation",
                )
            ],
        )
    except yaml.YAMLError as exc:
        return None, None, [Problem(file, 1, 1, "", f"YAML error: {exc}")]
    finally:
        loader.dispose()
    if problems:
        return None, root, problems
    if not isinstance(data, dict):
        line, col = _mark(root)
        return (
            None,
            root,
            [
                Problem(
                    file,
                    line,
                    col,
                    "",
                    f"the top level is a {type(data).__name__}, not a mapping",
                    "'key: value' pairs at the top level",
                    "schema_version: 1",
                )
            ],
        )
    return data, root, []


# --- pydantic errors -> located problems --------------------------------------------------------


def _loc_text(loc: Sequence[Any]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out.lstrip(".")


def _candidates(tp: Any) -> list[Any]:
    """The concrete types an annotation may hold (Annotated, Optional, unions unwrapped)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _candidates(typing.get_args(tp)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        out: list[Any] = []
        for a in typing.get_args(tp):
            out.extend(_candidates(a))
        return out
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _literal_values(tp: Any) -> list[Any]:
    vals: list[Any] = []
    for c in _candidates(tp):
        if typing.get_origin(c) is typing.Literal:
            vals.extend(typing.get_args(c))
    return vals


def _walk_model(root: type[BaseModel], loc: Sequence[Any]):
    """Follow ``loc`` through the model types: (parent model, field name, FieldInfo, annotation)."""
    types: list[Any] = [root]
    parent, fname, finfo, ann = None, None, None, None
    for key in loc:
        cands: list[Any] = []
        for t in types:
            cands.extend(_candidates(t))
        if isinstance(key, int):
            nxt = []
            for c in cands:
                if typing.get_origin(c) in (list, tuple):
                    nxt.extend(typing.get_args(c)[:1])
            if nxt:
                types = nxt
            continue
        models = [c for c in cands if _is_model(c)]
        owners = [m for m in models if key in m.model_fields]
        if owners:
            parent, fname = owners[0], key
            finfo = owners[0].model_fields[key]
            ann = finfo.annotation
            types = [ann]
            continue
        tagged = [
            m
            for m in models
            if "type" in m.model_fields
            and key in _literal_values(m.model_fields["type"].annotation)
        ]
        named = [m for m in models if m.__name__ == _branch_name(key)]
        if tagged or named:
            types = tagged or named
            continue
        dict_vals = [typing.get_args(c)[1] for c in cands if typing.get_origin(c) is dict]
        if dict_vals:
            types = dict_vals
        # any other loc element (a union branch tag such as "literal['trainee']") is skipped
    return parent, fname, finfo, ann, types


def _example_text(fname: str | None, finfo) -> str:
    examples = getattr(finfo, "examples", None) if finfo is not None else None
    if not examples:
        return ""
    value = examples[0]
    dumped = yaml.safe_dump(
        {fname: value} if fname else value,
        default_flow_style=True,
        sort_keys=False,
        allow_unicode=True,
        width=90,
    ).strip()
    return dumped[1:-1] if dumped.startswith("{") and dumped.endswith("}") else dumped


def _expected_text(finfo, types: list[Any]) -> str:
    parts = []
    if finfo is not None and finfo.description:
        parts.append(finfo.description)
    lits = [v for t in types for v in _literal_values(t)]
    if lits and len(lits) <= 20:
        parts.append("one of: " + ", ".join(str(v) for v in lits))
    return " — ".join(parts)


def _node_at(root: yaml.Node | None, loc: Sequence[Any]) -> tuple[yaml.Node | None, bool]:
    """The YAML node for ``loc``, or the deepest one that exists; ``(node, found)``."""
    node = root
    found = True
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            hit = None
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    hit = (k, v)
            if hit is not None:
                node = hit[1]
                continue
            if isinstance(key, int) or not _looks_like_tag(key):
                found = False
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if 0 <= key < len(node.value):
                node = node.value[key]
                continue
            found = False
            break
        elif isinstance(node, yaml.ScalarNode) and not _looks_like_tag(key):
            found = False
            break
    return node, found


def _branch_name(key: Any) -> str:
    """``"function-after[_distinct(), NeedleSpec]"`` -> ``"NeedleSpec"``; other keys unchanged."""
    import re

    if isinstance(key, str):
        m = re.fullmatch(r"function-\w+\[.*?(\w+)\]", key)
        if m:
            return m.group(1)
    return key if isinstance(key, str) else ""


def _is_model_branch(key: Any) -> bool:
    return isinstance(key, str) and _branch_name(key)[:1].isupper()


def _looks_like_tag(key: Any) -> bool:
    """Loc elements pydantic adds for union branches (not keys of the document)."""
    if not isinstance(key, str):
        return False
    from iddsanatomy.quiz.models import QUESTION_TYPES

    return (
        key in QUESTION_TYPES
        or key[:1].isupper()
        or key.startswith(
            ("literal[", "function-", "list[", "dict[", "tuple[", "is-instance[", "constrained-")
        )
        or key in ("str", "int", "float", "bool", "none")
    )


def _doc_loc(root: yaml.Node | None, loc: Sequence[Any]) -> tuple:
    """``loc`` without the union-branch tags pydantic adds: an element that is a key (or index)
    of the document where it stands is kept, whatever it looks like (``L2-L3`` in a map)."""
    node = root
    out: list[Any] = []
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(
                (
                    v
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == str(key)
                ),
                None,
            )
            if hit is not None:
                out.append(key)
                node = hit
                continue
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if 0 <= key < len(node.value):
                out.append(key)
                node = node.value[key]
                continue
        if _looks_like_tag(key):
            continue
        out.append(key)  # a missing field, or below a value that is not a mapping
        node = None
    return tuple(out)


def _key_node(root: yaml.Node | None, loc: Sequence[Any]) -> yaml.Node | None:
    parent, _ = _node_at(root, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for k, _v in parent.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(loc[-1]):
                return k
    return parent


def _prune_union_noise(errors: list[dict]) -> list[dict]:
    """When a value matched no branch of a union, keep the errors of the branch the author meant
    (the model for a mapping, the word for a string) rather than one per branch."""
    keep = []
    for e in errors:
        loc = e["loc"]
        tag_positions = [
            i
            for i, k in enumerate(loc)
            if _looks_like_tag(k) and not _is_model_branch(k) and k not in _question_types()
        ]
        if tag_positions:
            i = tag_positions[0]
            prefix = loc[:i]
            siblings = [
                o
                for o in errors
                if o is not e
                and tuple(o["loc"][:i]) == tuple(prefix)
                and len(o["loc"]) > i
                and _is_model_branch(o["loc"][i])
            ]
            if siblings and isinstance(e.get("input"), dict):
                continue
            if siblings and not isinstance(e.get("input"), dict):
                # the author wrote a word: drop the model branch's complaints instead
                for s in siblings:
                    s["_drop"] = True
        keep.append(e)
    return [e for e in keep if not e.get("_drop")]


def _question_types() -> tuple[str, ...]:
    from iddsanatomy.quiz.models import QUESTION_TYPES

    return QUESTION_TYPES


def problems_from_validation(
    exc: PydanticValidationError, model: type[BaseModel], root: yaml.Node | None, file: str
) -> list[Problem]:
    """Turn pydantic's errors into located :class:`Problem` s with expected values and examples."""
    out: list[Problem] = []
    errors = _prune_union_noise([dict(e) for e in exc.errors()])
    for err in errors:
        loc = tuple(err["loc"])
        etype = err["type"]
        doc_loc = _doc_loc(root, loc)
        _parent, fname, finfo, _ann, _types = _walk_model(model, loc)
        value = err.get("input")
        if etype == "extra_forbidden":
            node = _key_node(root, doc_loc)
            # the extra key is not a field: its owner is the model the loc before it reaches
            owner_types = _walk_model(model, loc[:-1])[4]
            owner_models = [c for t in owner_types for c in _candidates(t) if _is_model(c)]
            allowed = list(owner_models[0].model_fields) if owner_models else []
            key = str(loc[-1])
            msg = f"unknown field {key!r}{names.suggest(key, allowed)}"
            expected = "one of the fields: " + ", ".join(allowed) if allowed else ""
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
            example = (
                _example_text(close[0], owner_models[0].model_fields[close[0]]) if close else ""
            )
            line, col = _mark(node)
            out.append(Problem(file, line, col, _loc_text(doc_loc), msg, expected, example))
            continue
        node, _found = _node_at(root, doc_loc)
        if etype == "missing":
            msg = f"the required field {str(loc[-1])!r} is missing"
        elif etype == "literal_error":
            lits = [str(v) for t in _types for v in _literal_values(t)]
            msg = f"{value!r} is not allowed{names.suggest(str(value), lits)}"
        elif etype in ("union_tag_invalid", "union_tag_not_found"):
            types = _question_types()
            tag = (err.get("ctx") or {}).get("tag", "")
            if etype == "union_tag_not_found":
                msg = "a question needs a type"
            else:
                msg = f"unknown question type {tag!r}{names.suggest(str(tag), types)}"
            type_node = _key_node(root, (*doc_loc, "type"))
            out.append(
                Problem(
                    file,
                    *_mark(type_node if type_node is not None else node),
                    _loc_text(doc_loc) + ".type",
                    msg,
                    "one of: " + ", ".join(types),
                    "type: single_choice",
                )
            )
            continue
        elif etype == "value_error":
            msg = err["msg"].removeprefix("Value error, ")
        else:
            shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
            msg = f"{err['msg']} (got {shown})"
        line, col = _mark(node)
        out.append(
            Problem(
                file,
                line,
                col,
                _loc_text(doc_loc),
                msg,
                _expected_text(finfo, _types),
                _example_text(fname, finfo),
            )
        )
    return out


# --- lessons and banks -------------------------------------------------------------------------


def _semantic_problems(data: dict, root: yaml.Node | None, file: str) -> list[Problem]:
    """Duplicate step ids and question ids (pydantic sees one item at a time)."""
    out: list[Problem] = []

    def dupes(items: list[tuple[Any, tuple]], what: str) -> None:
        first: dict[str, tuple] = {}
        for item, base in items:
            if not (isinstance(item, dict) and isinstance(item.get("id"), str)):
                continue
            sid, loc = item["id"], (*base, "id")
            if sid not in first:
                first[sid] = loc
                continue
            node, _ = _node_at(root, loc)
            first_line = _mark(_node_at(root, first[sid])[0])[0]
            out.append(
                Problem(
                    file,
                    *_mark(node),
                    _loc_text(loc),
                    f"the {what} id {sid!r} is used twice (first on line {first_line})",
                    f"a unique {what} id",
                    f"id: {sid}-2",
                )
            )

    steps = data.get("steps") if isinstance(data.get("steps"), list) else []
    dupes([(s, ("steps", i)) for i, s in enumerate(steps)], "step")
    questions = [
        (s["question"], ("steps", i, "question"))
        for i, s in enumerate(steps)
        if isinstance(s, dict) and isinstance(s.get("question"), dict)
    ]
    if isinstance(data.get("questions"), list):
        questions += [(q, ("questions", i)) for i, q in enumerate(data["questions"])]
    dupes(questions, "question")
    return out


def file_kind(data: dict) -> str:
    """``"bank"`` or ``"lesson"`` from the ``kind`` field, else from ``questions`` / ``steps``."""
    kind = data.get("kind")
    if kind in ("lesson", "bank"):
        return kind
    return "bank" if "questions" in data and "steps" not in data else "lesson"


def _context(path: Path, data: dict, catalog) -> dict[str, Any]:
    groups = data.get("groups") if isinstance(data.get("groups"), dict) else {}
    groups = {k: v for k, v in groups.items() if isinstance(v, list)}
    return {"catalog": catalog, "groups": groups, "folder": path.resolve().parent}


_DEFAULT = object()


def load_file(path: str | Path, catalog: Any = _DEFAULT):
    """Load a lesson or a bank; raises :class:`LessonLoadError` listing every problem.

    ``catalog`` is the :class:`~iddsanatomy.lessons.names.StructureCatalog` that structure ids
    are checked against; by default the shipped manifest's (ids are not checked when there is
    none); ``None`` skips the check.
    """
    from iddsanatomy.lessons.schema import Lesson
    from iddsanatomy.quiz.models import QuestionBank

    path = Path(path)
    if catalog is _DEFAULT:
        catalog = names.default_catalog()
    data, root, problems = read_yaml(path)
    if data is None:
        raise LessonLoadError(problems)
    file = str(path)
    model: type[BaseModel] = QuestionBank if file_kind(data) == "bank" else Lesson
    problems = _semantic_problems(data, root, file)
    try:
        obj = model.model_validate(data, context=_context(path, data, catalog))
    except PydanticValidationError as exc:
        problems = problems_from_validation(exc, model, root, file) + problems
        obj = None
    if problems:
        problems.sort(key=lambda p: (p.line, p.column))
        raise LessonLoadError(problems)
    return obj


def load_lesson(path: str | Path, catalog: Any = _DEFAULT):
    """Load a lesson file (:class:`~iddsanatomy.lessons.schema.Lesson`)."""
    from iddsanatomy.lessons.schema import Lesson

    obj = load_file(path, catalog)
    if not isinstance(obj, Lesson):
        raise LessonLoadError(
            [
                Problem(
                    str(path),
                    1,
                    1,
                    "kind",
                    "this is a question bank, not a lesson",
                    "a file with steps",
                    "kind: lesson",
                )
            ]
        )
    return obj


def load_bank(path: str | Path, catalog: Any = _DEFAULT):
    """Load a question bank file (:class:`~iddsanatomy.quiz.models.QuestionBank`)."""
    from iddsanatomy.quiz.models import QuestionBank

    obj = load_file(path, catalog)
    if not isinstance(obj, QuestionBank):
        raise LessonLoadError(
            [
                Problem(
                    str(path),
                    1,
                    1,
                    "kind",
                    "this is a lesson, not a question bank",
                    "a file with questions",
                    "kind: bank",
                )
            ]
        )
    return obj


def check_file(path: str | Path, catalog: Any = _DEFAULT) -> list[Problem]:
    """Every problem in ``path`` (empty when it is clean)."""
    try:
        load_file(path, catalog)
    except LessonLoadError as exc:
        return exc.problems
    return []


# --- planned needles on the lesson's patients ---------------------------------------------------


def has_planned_needles(lesson) -> bool:
    """Whether any scene of ``lesson`` (start, steps, step questions) has a planned needle."""
    from iddsanatomy.lessons.scene_spec import NeedlePlanSpec

    scenes = [lesson.start_scene]
    for s in lesson.steps:
        scenes.append(s.scene)
        if s.question is not None and s.question.scene is not None:
            scenes.append(s.question.scene)
    return any(isinstance(sc.needle, NeedlePlanSpec) for sc in scenes)


def needle_plan_problems(path: str | Path, lesson, anatomy_for) -> list[Problem]:
    """Every planned needle of ``lesson`` that cannot be placed on the patient its step shows.

    Each step (and its question's scene) is played as the runner plays it, and its planned
    needle placed on ``anatomy_for(variant)`` of that step's patient; a plan that fails is
    reported once per patient, at the step where it first fails.
    """
    from iddsanatomy.lessons.runner import LessonRunner

    file = str(path)
    _data, root, _p = read_yaml(path)
    runner = LessonRunner(lesson, catalog=None, anatomy_for=anatomy_for)
    out: list[Problem] = []
    seen: set[tuple[Any, str]] = set()
    for i, step in enumerate(lesson.steps):
        passes = [(False, step.scene)]
        if step.question is not None and step.question.scene is not None:
            passes.append((True, step.question.scene))
        for with_question, spec in passes:
            problem = runner.needle_problem(i, with_question)
            if problem is None:
                continue
            plan, variant = runner.planned_needle(i, with_question)
            key = (plan, repr(variant))
            if key in seen:
                continue
            seen.add(key)
            base: tuple = (
                ("steps", i, "question", "scene") if with_question else ("steps", i, "scene")
            )
            if "needle" in spec.model_fields_set:
                loc = (*base, "needle")
            elif "variant" in spec.model_fields_set:
                loc = (*base, "variant")
            else:
                loc = ("steps", i)
            node, _found = _node_at(root, loc)
            out.append(
                Problem(
                    file,
                    *_mark(node),
                    _loc_text(loc),
                    str(problem),
                    "a planned needle with a clear path on this step's patient (another "
                    "interspace, approach or side), or a needle given as entry_lps + target_lps",
                    "needle: {interspace: L3-L4, approach: paramedian, side: left, "
                    "target: intrathecal}",
                )
            )
    return out


# --- discovery ---------------------------------------------------------------------------------


@dataclass
class Entry:
    """One file found by :func:`discover`: loaded (``item``) or broken (``problems``)."""

    path: Path
    kind: str  # "lesson" | "bank"
    item: Any = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.item is not None and not self.problems


@dataclass
class Library:
    """Everything under a lessons folder: lessons, banks, and broken files with their errors."""

    folder: Path | None
    entries: list[Entry] = field(default_factory=list)

    @property
    def lessons(self) -> list[Entry]:
        return [e for e in self.entries if e.ok and e.kind == "lesson"]

    @property
    def banks(self) -> list[Entry]:
        return [e for e in self.entries if e.ok and e.kind == "bank"]

    @property
    def broken(self) -> list[Entry]:
        return [e for e in self.entries if not e.ok]


def yaml_files(paths: Iterable[str | Path]) -> list[Path]:
    """YAML files named directly or found (recursively) in the folders named."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.suffix in YAML_SUFFIXES
                    and f.is_file()
                    and not any(part.startswith(".") for part in f.relative_to(p).parts)
                )
            )
        else:
            out.append(p)
    return out


def discover(folder: str | Path | None = None, catalog: Any = _DEFAULT) -> Library:
    """Load every lesson and bank under ``folder`` (default: the shipped ``lessons/``).

    Never raises for a bad file: it is kept in :attr:`Library.broken` with its problems.
    """
    if folder is None:
        from iddsanatomy.errors import DataNotFoundError
        from iddsanatomy.paths import data_dir

        try:
            folder = data_dir("lessons")
        except DataNotFoundError:
            return Library(None, [])
    folder = Path(folder)
    if catalog is _DEFAULT:
        catalog = names.default_catalog()
    lib = Library(folder)
    seen: dict[tuple[str, str], Path] = {}
    for f in yaml_files([folder]):
        try:
            item = load_file(f, catalog)
        except LessonLoadError as exc:
            data, _root, _p = (None, None, None)
            kind = "lesson"
            try:
                data, _root, _p = read_yaml(f)
                kind = file_kind(data) if isinstance(data, dict) else "lesson"
            except Exception:  # already reported as a problem
                pass
            lib.entries.append(Entry(f, kind, None, exc.problems))
            continue
        kind = "bank" if item.kind == "bank" else "lesson"
        key = (kind, item.id)
        if key in seen:
            lib.entries.append(
                Entry(
                    f,
                    kind,
                    None,
                    [
                        Problem(
                            str(f),
                            1,
                            1,
                            "id",
                            f"the {kind} id {item.id!r} is already used by {seen[key]}",
                            f"a {kind} id unique in the library",
                        )
                    ],
                )
            )
            continue
        seen[key] = f
        lib.entries.append(Entry(f, kind, item))
    return lib
