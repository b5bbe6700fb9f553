"""meshes/ on disk: manifest agrees with the folder, checksums hold, broken files are contained,
and the committed files are exactly what the generator makes (slow)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from iddsanatomy.anatomy import load_anatomy
from iddsanatomy.anatomy.io import MANIFEST, read_ply, verify_checksums
from iddsanatomy.errors import MeshLoadError
from iddsanatomy.paths import data_dir


@pytest.fixture(scope="module")
def meshes():
    return data_dir("meshes")


def test_manifest_and_folder_agree(meshes):
    m = json.loads((meshes / MANIFEST).read_text(encoding="utf-8"))
    assert m["units"] == "mm" and m["frame"] == "LPS"
    named = set()
    for e in m["structures"]:
        for k in ("file", "coarse_file", "labels_file"):
            if e.get(k):
                named.add(e[k])
    on_disk = {p.name for p in meshes.iterdir() if p.suffix in (".ply", ".npy")}
    assert named == on_disk
    assert verify_checksums(meshes) == []
    ids = [e["id"] for e in m["structures"]]
    assert len(ids) == len(set(ids))
    for e in m["structures"]:
        if e.get("parent"):
            assert e["parent"] in ids


def test_folder_is_small_enough(meshes):
    size = sum(p.stat().st_size for p in meshes.iterdir() if p.is_file())
    assert size < 25e6


def test_ply_reader_matches_trimesh(meshes):
    import trimesh

    ours = read_ply(meshes / "L3.ply", "L3")
    theirs = trimesh.load(meshes / "L3.ply", process=False, force="mesh")
    assert np.array_equal(ours.faces, theirs.faces)
    assert np.allclose(ours.vertices, theirs.vertices)


def _copy(meshes, tmp_path):
    dst = tmp_path / "meshes"
    shutil.copytree(meshes, dst)
    return dst


@pytest.mark.parametrize("damage", ["missing", "truncated", "not_a_mesh"])
def test_a_broken_file_names_structure_and_file_and_the_rest_loads(meshes, tmp_path, damage):
    folder = _copy(meshes, tmp_path)
    target = folder / "disc.L3-L4.ply"
    if damage == "missing":
        target.unlink()
    elif damage == "truncated":
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
    else:
        target.write_text("this is not a mesh\n")
    a = load_anatomy(folder=folder)
    err = a.errors
    assert set(err) == {"disc.L3-L4"}
    assert "disc.L3-L4" in err["disc.L3-L4"] and "disc.L3-L4.ply" in err["disc.L3-L4"]
    assert a["disc.L3-L4"].mesh is None
    assert a["L3"].ok and a["dura"].ok
    assert len(a.structures) == len(load_anatomy(folder=meshes).structures)


def test_a_broken_bone_takes_its_parts_down_with_a_message(meshes, tmp_path):
    folder = _copy(meshes, tmp_path)
    (folder / "L4.labels.npy").write_bytes(b"garbage")
    a = load_anatomy(folder=folder)
    assert "L4" in a.errors and "L4.labels.npy" in a.errors["L4"]
    assert "L4.pedicle.left" in a.errors
    assert a["L3.pedicle.left"].ok


def test_read_ply_errors_are_mesh_load_errors(tmp_path):
    p = tmp_path / "x.ply"
    with pytest.raises(MeshLoadError, match=r"x\.ply"):
        read_ply(p, "x")
    p.write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\n"
        b"property float y\nproperty float z\nelement face 1\n"
        b"property list uchar int vertex_indices\nend_header\n" + b"\0" * 10
    )
    with pytest.raises(MeshLoadError, match="truncated"):
        read_ply(p, "x")


@pytest.mark.slow
def test_committed_meshes_are_what_the_generator_makes(meshes, tmp_path):
    """Regenerate into a temporary folder and compare every checksum with the committed ones."""
    from iddsanatomy.anatomy.build_cli import build

    out = tmp_path / "regen"
    build(out, log=lambda _m: None)
    committed = json.loads((meshes / MANIFEST).read_text(encoding="utf-8"))
    fresh = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert committed == fresh
    for p in meshes.iterdir():
        if p.suffix in (".ply", ".npy", ".json"):
            assert (out / p.name).read_bytes() == p.read_bytes(), p.name
