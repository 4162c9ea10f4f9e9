"""Indices of mediapipe face-mesh points (468 + 10 iris points) that outline face parts.

Ordered loops and polylines read off mediapipe's published face-mesh topology
(`face_mesh_connections.py`: FACEMESH_FACE_OVAL, FACEMESH_LIPS, eyes, eyebrows, irises).
"Right" and "left" are the subject's (the subject's right eye is on the image's left).
"""

from __future__ import annotations

__all__ = [
    "FACE_OVAL", "LIPS_OUTER", "LIPS_INNER", "UPPER_LIP", "LOWER_LIP", "RIGHT_EYE", "LEFT_EYE",
    "RIGHT_UPPER_LID", "LEFT_UPPER_LID", "RIGHT_BROW", "LEFT_BROW", "RIGHT_IRIS", "LEFT_IRIS",
    "NOSE_TIP", "SUBNASALE", "RIGHT_ALA", "LEFT_ALA", "CHIN", "FOREHEAD", "RIGHT_CHEEK", "LEFT_CHEEK",
    "RIGID", "UPPER_LIP_MID", "LOWER_LIP_MID",
]

FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
LIPS_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191]
#: Closed loops: outer contour left to right, then the inner contour back.
UPPER_LIP = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191, 78]
LOWER_LIP = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78]
RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
LEFT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466]
RIGHT_UPPER_LID = [33, 246, 161, 160, 159, 158, 157, 173, 133]
LEFT_UPPER_LID = [362, 398, 384, 385, 386, 387, 388, 466, 263]
#: Brow loops: upper edge outward-in, then the lower edge back.
RIGHT_BROW = [70, 63, 105, 66, 107, 55, 65, 52, 53, 46]
LEFT_BROW = [300, 293, 334, 296, 336, 285, 295, 282, 283, 276]
#: Iris centre then four rim points (refined landmarks).
RIGHT_IRIS = [468, 469, 470, 471, 472]
LEFT_IRIS = [473, 474, 475, 476, 477]
NOSE_TIP = 1
SUBNASALE = 2
RIGHT_ALA = 98
LEFT_ALA = 327
CHIN = 152
FOREHEAD = 10
RIGHT_CHEEK = 234
LEFT_CHEEK = 454
UPPER_LIP_MID = 13
LOWER_LIP_MID = 14
#: Points that move little with expression: forehead, temples, nose bridge and tip, eye corners.
RIGID = [10, 338, 297, 109, 67, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 33, 133, 362, 263, 234, 454, 127, 356, 162, 389]
