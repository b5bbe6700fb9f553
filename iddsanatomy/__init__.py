"""iddsanatomy: the 3D anatomy of intrathecal drug delivery system (IDDS) trial needle placement.

Importing this package is cheap: it pulls in neither Qt nor VTK nor trimesh.
"""

__version__ = "0.1.0"
