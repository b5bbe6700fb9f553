"""The anatomical model: structure registry, parametric generator, loading, measurement.

``load_anatomy()`` reads the shipped ``meshes/`` (made by :mod:`iddsanatomy.anatomy.assembly`).
Heavy modules (trimesh, scipy) are imported only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from iddsanatomy.anatomy.model import Anatomy

__all__ = ["load_anatomy"]


def load_anatomy(variant=None, folder=None, coarse: bool = True) -> Anatomy:
    """The default anatomy from ``meshes/`` (LPS mm), optionally changed for a patient variant.

    Parameters
    ----------
    variant : PatientVariant, optional
        ``None`` is the default adult. A variant is applied by
        :mod:`iddsanatomy.anatomy.variation` when that module provides ``apply_variant``.
    folder : path, optional
        Another meshes folder (tests); by default :func:`iddsanatomy.paths.data_dir`.
    coarse : bool
        Also load the coarse levels of detail.

    Returns
    -------
    Anatomy
        Structures by id; a structure whose file is missing or broken has ``error`` set and the
        rest still loads.
    """
    from iddsanatomy.anatomy.io import load_folder
    from iddsanatomy.paths import data_dir

    base = load_folder(folder if folder is not None else data_dir("meshes"), None, coarse=coarse)
    if variant is None:
        return base
    from iddsanatomy.anatomy import variation

    apply = getattr(variation, "apply_variant", None)
    if apply is None:
        from iddsanatomy.errors import ValidationError

        raise ValidationError("patient variants are not available yet (variation.apply_variant)")
    return apply(base, variant)
