"""Face landmarks of RGB video by MediaPipe FaceMesh 0.10.14 (the models inside its wheel), offline.

FaceMesh (Kartynnik et al. 2019, "Real-time Facial Surface Geometry from Monocular Video on
Mobile GPUs") finds a face with the BlazeFace short-range detector, then regresses 468 3-D
landmarks (478 with ``refine_landmarks``: the attention model adds 10 iris points) on the face
crop, and tracks the crop from frame to frame in video mode. Landmarks are returned in pixels
(x, y; z on the x scale, relative to the face centre); a frame without a face is NaN and
``found`` is False there: a missing face is never scored as a zero.

mediapipe 0.10.14 pins ``protobuf<5``, which the project's grain (``protobuf>=5.28.3``) cannot
share; it runs with protobuf 5 and 6 except for one removed call (``GetPrototype``) on the
landmark output, which :class:`_FaceMesh` replaces with ``message_factory.GetMessageClass``.
So the Makefile installs mediapipe with ``--no-deps`` and this distribution pins
``protobuf<7`` and mediapipe's other requirements itself.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import attrs
import numpy as np
from jaxtyping import Bool, Float, UInt8

from archon_perception._definition import (
    MissingPackageError,
    ModelDefinition,
    PerceptionError,
    installed_version,
)

__all__ = [
    "FACE_SCALE_LANDMARKS",
    "INNER_LIP_PAIRS",
    "MEDIAPIPE_VERSION",
    "FaceLandmarks",
    "FaceMeshConfig",
    "face_landmarks",
    "face_mesh_definition",
    "mouth_landmarks",
    "mouth_opening",
]

MEDIAPIPE_VERSION = "0.10.14"
_INSTALL = f"pip install --no-deps mediapipe=={MEDIAPIPE_VERSION} (the Makefile's setup does this)"
#: Upper / lower inner-lip landmark pairs of the canonical face mesh (centre, left, right).
INNER_LIP_PAIRS: tuple[tuple[int, int], ...] = ((13, 14), (82, 87), (312, 317))
#: Outer eye corners; their distance is the face scale that mouth opening is divided by.
FACE_SCALE_LANDMARKS: tuple[int, int] = (33, 263)


@attrs.frozen(kw_only=True)
class FaceMeshConfig:
    """Settings of :func:`face_landmarks` (every one is part of the model definition).

    Attributes:
        refine_landmarks: the attention model with iris points (478 landmarks) instead of 468.
        min_detection_confidence: BlazeFace score to accept a face.
        min_tracking_confidence: landmark-model face presence to keep tracking without re-detecting.
        static_image_mode: detect on every frame (True) or track between frames (video mode).
    """

    refine_landmarks: bool = True
    min_detection_confidence: float = attrs.field(default=0.5, validator=attrs.validators.and_(
        attrs.validators.ge(0.0), attrs.validators.le(1.0)))
    min_tracking_confidence: float = attrs.field(default=0.5, validator=attrs.validators.and_(
        attrs.validators.ge(0.0), attrs.validators.le(1.0)))
    static_image_mode: bool = False

    @property
    def num_landmarks(self) -> int:
        """468, or 478 with the iris points."""
        return 478 if self.refine_landmarks else 468


@attrs.frozen(kw_only=True)
class FaceLandmarks:
    """Landmarks of one video.

    Attributes:
        points: float32 [frames, landmarks, 3]: x, y in pixels, z on the x scale; NaN without a face.
        found: bool [frames]: a face was found.
        definition: the model definition the points were made with.
    """

    points: Float[np.ndarray, "frames landmarks 3"]
    found: Bool[np.ndarray, " frames"]
    definition: ModelDefinition

    @property
    def detection_rate(self) -> float:
        """Fraction of frames with a face."""
        return float(self.found.mean()) if self.found.size else 0.0

    def mouth_opening(self) -> Float[np.ndarray, " frames"]:
        """Inner-lip distance over face scale per frame (NaN without a face); see :func:`mouth_opening`."""
        return mouth_opening(self.points)


def mouth_opening(points: Float[np.ndarray, "frames landmarks 3"]) -> Float[np.ndarray, " frames"]:
    """Mouth opening per frame: mean inner-lip gap of :data:`INNER_LIP_PAIRS` over the outer-eye-corner distance.

    Scale-free (the same face at any size gives the same value); NaN where the points are NaN.

    Raises:
        PerceptionError: points not shaped [frames, >= 468, 2 or 3].
    """
    points = np.asarray(points, np.float32)
    if points.ndim != 3 or points.shape[1] < 468 or points.shape[2] not in (2, 3):
        raise PerceptionError(f"face landmarks: expected [frames, 468 or 478, 3] points, got shape {points.shape}")
    xy = points[..., :2]
    upper = xy[:, [a for a, _ in INNER_LIP_PAIRS]]
    lower = xy[:, [b for _, b in INNER_LIP_PAIRS]]
    gap = np.linalg.norm(upper - lower, axis=-1).mean(axis=1)
    a, b = FACE_SCALE_LANDMARKS
    scale = np.linalg.norm(xy[:, a] - xy[:, b], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, gap / scale, np.nan).astype(np.float32)


def _mediapipe():
    installed_version("mediapipe", pinned=MEDIAPIPE_VERSION, install=_INSTALL)
    try:
        import mediapipe
    except Exception as err:  # an import failure of a compiled wheel is not always ImportError
        raise MissingPackageError(f"mediapipe {MEDIAPIPE_VERSION} is installed but does not import ({err}): "
                                  f"{_INSTALL}; protobuf must be <7", package="mediapipe", extra=_INSTALL) from err
    return mediapipe


@functools.lru_cache(maxsize=1)
def mouth_landmarks() -> tuple[int, ...]:
    """Indices of the lip landmarks (outer and inner contours, 40 points) of MediaPipe's FACEMESH_LIPS."""
    lips = _mediapipe().solutions.face_mesh.FACEMESH_LIPS
    return tuple(sorted({i for edge in lips for i in edge}))


def face_mesh_definition(config: FaceMeshConfig = FaceMeshConfig()) -> ModelDefinition:
    """The versioned definition of FaceMesh under `config`: mediapipe version, model sha256s, settings.

    Raises:
        MissingPackageError: mediapipe 0.10.14 is not installed.
    """
    _mediapipe()  # checked on every call; the hashes are computed once
    return _face_mesh_definition(config)


@functools.lru_cache(maxsize=4)
def _face_mesh_definition(config: FaceMeshConfig) -> ModelDefinition:
    mp = _mediapipe()
    root = Path(mp.__file__).parent
    landmark = "face_landmark_with_attention.tflite" if config.refine_landmarks else "face_landmark.tflite"
    files = ["modules/face_detection/face_detection_short_range.tflite", f"modules/face_landmark/{landmark}",
             "modules/face_landmark/face_landmark_front_cpu.binarypb"]
    parameters = {**attrs.asdict(config), "max_num_faces": 1, "num_landmarks": config.num_landmarks,
                  "coordinates": "x, y pixels; z on the x scale"}
    return ModelDefinition.from_files(name="mediapipe.face_mesh", package="mediapipe", version=MEDIAPIPE_VERSION,
                                      root=root, files=files, parameters=parameters)


@functools.lru_cache(maxsize=4)
def _face_mesh(config: FaceMeshConfig):
    mp = _mediapipe()
    from google.protobuf import message_factory, symbol_database
    from mediapipe.python._framework_bindings import _packet_getter
    from mediapipe.python.solution_base import PacketDataType

    class _FaceMesh(mp.solutions.face_mesh.FaceMesh):
        """FaceMesh whose proto-list output works on protobuf 5 and 6 (no ``GetPrototype``)."""

        def _get_packet_content(self, packet_data_type, output_packet):
            if packet_data_type != PacketDataType.PROTO_LIST or output_packet.is_empty():
                return super()._get_packet_content(packet_data_type, output_packet)
            if _packet_getter._get_proto_vector_size(output_packet) == 0:
                return []
            name = _packet_getter._get_proto_vector_element_type_name(output_packet)
            cls = message_factory.GetMessageClass(symbol_database.Default().pool.FindMessageTypeByName(name))
            return [cls.FromString(raw) for raw in _packet_getter._get_serialized_proto_list(output_packet)]

    with warnings.catch_warnings():  # protobuf 6 deprecates FieldDescriptor.label, which it reads once here
        warnings.simplefilter("ignore", DeprecationWarning)
        return _FaceMesh(static_image_mode=config.static_image_mode, max_num_faces=1,
                         refine_landmarks=config.refine_landmarks,
                         min_detection_confidence=config.min_detection_confidence,
                         min_tracking_confidence=config.min_tracking_confidence)


def face_landmarks(frames: UInt8[np.ndarray, "frames height width 3"], *,
                   config: FaceMeshConfig = FaceMeshConfig(), name: str = "video") -> FaceLandmarks:
    """FaceMesh landmarks of every frame of an RGB video (one face, tracked in video mode).

    Args:
        frames: uint8 [frames, height, width, 3] RGB (a single [height, width, 3] image is one frame).
        config: model settings.
        name: what the frames are, quoted in errors (e.g. ``prediction video of clip X``).

    Returns:
        :class:`FaceLandmarks`; frames without a face are NaN and not ``found``.

    Raises:
        PerceptionError: not uint8 RGB frames, or no frames.
        MissingPackageError: mediapipe 0.10.14 is not installed.
    """
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise PerceptionError(f"{name}: face landmarks need uint8 RGB frames [frames, height, width, 3], "
                              f"got {frames.dtype} {frames.shape}")
    if frames.shape[0] == 0 or frames.shape[1] < 2 or frames.shape[2] < 2:
        raise PerceptionError(f"{name}: no frames to find a face in (shape {frames.shape})")
    definition = face_mesh_definition(config)
    mesh = _face_mesh(config)
    mesh.reset()  # each video starts by detecting, never from the last video's track
    height, width = frames.shape[1:3]
    points = np.full((frames.shape[0], config.num_landmarks, 3), np.nan, np.float32)
    found = np.zeros(frames.shape[0], bool)
    for t, frame in enumerate(frames):
        result = mesh.process(np.ascontiguousarray(frame))
        if not result.multi_face_landmarks:
            continue
        marks = result.multi_face_landmarks[0].landmark
        xyz = np.array([(m.x, m.y, m.z) for m in marks], np.float32)  # [landmarks, 3], normalized
        points[t] = xyz * np.array([width, height, width], np.float32)
        found[t] = True
    return FaceLandmarks(points=points, found=found, definition=definition)
