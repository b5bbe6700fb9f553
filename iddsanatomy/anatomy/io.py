"""Writing and reading ``meshes/``: binary PLY files, face-label sidecars and ``manifest.json``.

Layout of the folder::

    manifest.json             ids, files, tissues, levels, names, descriptions, colours, sha256,
                              parents/parts, landmarks (LPS mm), per-level frames, units, frame
    <id>.ply                  full-detail mesh (binary little-endian PLY, LPS mm)
    <id>.coarse.ply           coarse level of detail (drawn while the camera moves)
    <id>.labels.npy           int16 part index per face of <id>.ply (bones only)

Parts of bones (``L3.pedicle.left``) have no files: they are the faces of their bone whose label is
the part's index, cut out at load time.

A file that is missing, truncated or not a mesh does not stop the load: the structure gets
``error`` (naming the structure and the file) and ``mesh=None``; everything else loads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from iddsanatomy.anatomy.model import Anatomy, Structure
from iddsanatomy.errors import MeshLoadError

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _ply_bytes(mesh) -> bytes:
    """Binary PLY of vertices (float32) and faces (int32), no normals, no comments."""
    v = np.ascontiguousarray(mesh.vertices, dtype="<f4")
    f = np.ascontiguousarray(mesh.faces, dtype="<i4")
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(v)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode("ascii")
    face_rec = np.empty(len(f), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    face_rec["n"] = 3
    face_rec["i"] = f
    return header + v.tobytes() + face_rec.tobytes()


def _file_name(sid: str, suffix: str) -> str:
    return f"{sid}{suffix}"


def save_generated(gen, folder: Path, log=None) -> dict:
    """Write a :class:`~iddsanatomy.anatomy.assembly.Generated` into ``folder``.

    Returns the manifest dict. Existing ``*.ply``/``*.npy`` files that the new manifest does not
    name are removed, so the folder holds exactly what the generator made.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    written: set[str] = {MANIFEST}
    for sid, p in gen.parts.items():
        e = {
            "id": sid,
            "tissue": p.tissue,
            "level": p.level,
            "display_name": p.display_name,
            "description": p.description,
            "color": [round(float(c), 4) for c in p.color],
            "parent": p.parent,
            "closed": bool(p.closed),
        }
        if p.parent is None:
            name = _file_name(sid, ".ply")
            (folder / name).write_bytes(_ply_bytes(p.mesh))
            e["file"] = name
            e["sha256"] = sha256(folder / name)
            e["n_faces"] = len(p.mesh.faces)
            written.add(name)
            if p.coarse is not None:
                cname = _file_name(sid, ".coarse.ply")
                (folder / cname).write_bytes(_ply_bytes(p.coarse))
                e["coarse_file"] = cname
                e["coarse_sha256"] = sha256(folder / cname)
                written.add(cname)
            if p.face_labels is not None:
                lname = _file_name(sid, ".labels.npy")
                np.save(folder / lname, np.asarray(p.face_labels, dtype="<i2"), allow_pickle=False)
                e["labels_file"] = lname
                e["labels_sha256"] = sha256(folder / lname)
                e["parts"] = list(p.part_ids)
                written.add(lname)
        else:
            parent = gen.parts[p.parent]
            e["label"] = parent.part_ids.index(sid)
        entries.append(e)
    info = {k: v for k, v in gen.info.items() if k not in ("curve",)}
    manifest = {
        "format_version": FORMAT_VERSION,
        "generator": "iddsanatomy.anatomy.assembly.generate",
        "units": "mm",
        "frame": "LPS",
        "frame_note": "+x patient left, +y posterior, +z superior; origin at the centre of the "
        "S1 superior endplate",
        "structures": entries,
        "landmarks_lps": {
            k: [round(float(c), 4) for c in v] for k, v in sorted(gen.landmarks_lps.items())
        },
        "lps_from_level": {k: np.round(v, 6).tolist() for k, v in gen.lps_from_level.items()},
        "info": _jsonable(info),
    }
    (folder / MANIFEST).write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    for f in folder.iterdir():
        if f.suffix in (".ply", ".npy") and f.name not in written:
            f.unlink()
    return manifest


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items() if k != "generation_s"}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return round(float(x), 4)
    if isinstance(x, np.integer):
        return int(x)
    return x


def read_ply(path: Path, structure_id: str):
    """Read one of our binary PLY files into a trimesh (no processing).

    Raises
    ------
    MeshLoadError
        Missing, truncated or not a mesh; the message names the structure and the file.
    """
    import trimesh

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MeshLoadError(
            structure_id, str(path), f"cannot read the file ({exc.strerror or exc})"
        ) from exc
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        raise MeshLoadError(structure_id, str(path), "not a PLY mesh file (no 'ply' header)")
    header = data[:end].decode("ascii", "replace").splitlines()
    try:
        nv = int(next(h.split()[2] for h in header if h.startswith("element vertex")))
        nf = int(next(h.split()[2] for h in header if h.startswith("element face")))
    except (StopIteration, ValueError, IndexError) as exc:
        raise MeshLoadError(
            structure_id, str(path), "PLY header without vertex/face counts"
        ) from exc
    if "format binary_little_endian" not in "\n".join(header) or any(
        h.startswith("property") and h.split()[1] not in ("float", "list") for h in header
    ):
        # some other PLY (a user's file): let trimesh read it
        try:
            m = trimesh.load(path, file_type="ply", process=False, force="mesh")
        except Exception as exc:
            raise MeshLoadError(structure_id, str(path), f"unreadable PLY ({exc})") from exc
        if not isinstance(m, trimesh.Trimesh) or len(m.faces) == 0:
            raise MeshLoadError(structure_id, str(path), "file holds no triangles")
        return m
    body = memoryview(data)[end + len(b"end_header\n") :]
    need = nv * 12 + nf * 13
    if len(body) < need:
        raise MeshLoadError(
            structure_id, str(path), f"truncated: {len(body)} bytes of mesh data, expected {need}"
        )
    v = np.frombuffer(body, dtype="<f4", count=nv * 3).reshape(nv, 3).astype(np.float64)
    rec = np.frombuffer(body, dtype=[("n", "u1"), ("i", "<i4", (3,))], count=nf, offset=nv * 12)
    if nf and (np.any(rec["n"] != 3) or rec["i"].max() >= nv or rec["i"].min() < 0):
        raise MeshLoadError(structure_id, str(path), "faces are not valid triangles of this mesh")
    if nf == 0:
        raise MeshLoadError(structure_id, str(path), "file holds no triangles")
    return trimesh.Trimesh(v, np.asarray(rec["i"], dtype=np.int64), process=False, validate=False)


def _submesh(mesh, faces_idx: np.ndarray):
    """The faces ``faces_idx`` of ``mesh`` as a compact, unprocessed trimesh (fast)."""
    import trimesh

    f = mesh.faces[faces_idx]
    used, inv = np.unique(f.ravel(), return_inverse=True)
    return trimesh.Trimesh(mesh.vertices[used], inv.reshape(-1, 3), process=False, validate=False)


def load_folder(folder: Path, variant=None, coarse: bool = True) -> Anatomy:
    """Load every structure named in ``folder/manifest.json``.

    Per-structure failures become ``Structure.error``; a missing or unreadable manifest raises
    :class:`MeshLoadError` (nothing can be loaded without it).
    """
    folder = Path(folder)
    mpath = folder / MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MeshLoadError("manifest", str(mpath), f"cannot read the manifest ({exc})") from exc
    structures: dict[str, Structure] = {}
    entries = manifest["structures"]
    for e in entries:
        if e.get("parent"):
            continue
        s = Structure(
            id=e["id"],
            tissue=e["tissue"],
            display_name=e["display_name"],
            description=e.get("description", ""),
            level=e.get("level"),
            color=tuple(e.get("color", (0.8, 0.8, 0.8))),
            closed=e.get("closed", True),
            part_ids=tuple(e.get("parts", ())),
        )
        try:
            s.mesh = read_ply(folder / e["file"], s.id)
            if e.get("labels_file"):
                lp = folder / e["labels_file"]
                try:
                    labels = np.load(lp, allow_pickle=False)
                except (OSError, ValueError) as exc:
                    raise MeshLoadError(
                        s.id, str(lp), f"cannot read the face labels ({exc})"
                    ) from exc
                if labels.shape != (len(s.mesh.faces),):
                    raise MeshLoadError(
                        s.id, str(lp), f"{labels.shape[0]} labels for {len(s.mesh.faces)} faces"
                    )
                s.face_labels = labels
        except MeshLoadError as exc:
            s.mesh = None
            s.error = str(exc)
        if coarse and e.get("coarse_file") and s.error is None:
            try:
                s.coarse = read_ply(folder / e["coarse_file"], s.id)
            except MeshLoadError:
                s.coarse = None  # the full mesh still draws; the coarse one is an optimisation
        structures[s.id] = s
    for e in entries:
        parent_id = e.get("parent")
        if not parent_id:
            continue
        parent = structures.get(parent_id)
        s = Structure(
            id=e["id"],
            tissue=e["tissue"],
            display_name=e["display_name"],
            description=e.get("description", ""),
            level=e.get("level"),
            color=tuple(e.get("color", (0.8, 0.8, 0.8))),
            parent=parent_id,
            closed=False,
        )
        if parent is None or not parent.ok or parent.face_labels is None:
            s.error = f"structure {s.id!r}: its bone {parent_id!r} did not load" + (
                f" ({parent.error})" if parent is not None and parent.error else ""
            )
        else:
            idx = np.nonzero(parent.face_labels == int(e["label"]))[0]
            s.mesh = _submesh(parent.mesh, idx)
        structures[s.id] = s
    landmarks = {
        k: np.asarray(v, dtype=float) for k, v in manifest.get("landmarks_lps", {}).items()
    }
    frames = {k: np.asarray(v, dtype=float) for k, v in manifest.get("lps_from_level", {}).items()}
    info = dict(manifest.get("info", {}))
    info["folder"] = str(folder)
    return Anatomy(structures, landmarks, frames, variant, info)


def verify_checksums(folder: Path) -> list[str]:
    """Files whose sha256 differs from the manifest (empty when all hold)."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    bad = []
    for e in manifest["structures"]:
        for fk, hk in (
            ("file", "sha256"),
            ("coarse_file", "coarse_sha256"),
            ("labels_file", "labels_sha256"),
        ):
            if e.get(fk):
                p = folder / e[fk]
                if not p.is_file() or sha256(p) != e[hk]:
                    bad.append(e[fk])
    return bad
