"""The paper's named chains (Sec. 3.4, Fig. 4, Tab. 3), its evaluation chains (Tab. 2) and its
editing chains (Sec. 4.2, Fig. 5): every step a Table G task, spelled out.

`CHAINS` and `EDITING_CHAINS` are what this plugin's `archon_chains()` returns; the framework reads
them from the registry (``registry.chain("speech-to-video")``, ``archon list-chains``).
"""

from __future__ import annotations

from archon_framework import Chain, ChainStep, EditCheck, EditingChain, chain_slots, chain_steps, parse_slot

__all__ = [
    "ANIMATION_TO_VIDEO", "CHAINS", "DESCRIPTION_TO_SPEECH", "EDITING_CHAINS", "EDIT_DESCRIPTION", "EDIT_SCRIPT",
    "IMAGE_TO_SPEECH", "IMAGE_TO_SPEECH_THINKING", "REENACT", "SEMANTIC_TO_ALL", "SPEECH_TO_ALL", "SPEECH_TO_VIDEO",
    "SPEECH_TO_VIDEO_DIRECT", "TEXT_TO_ALL", "VIDEO_TO_ALL",
]

def _s(text: str):
    return parse_slot(text)

def _chain(name: str, conditions: str, steps: list[str], description: str, optional: str = "") -> Chain:
    return Chain(name, chain_slots(conditions), chain_steps(*steps), chain_slots(optional), description)

#: Paper Sec. 3.4 / Tab. 3 "Full Model": {speech, image} -> [shape, expression, semantic, description, video].
SPEECH_TO_VIDEO = _chain("speech-to-video", "speech(c)+image(t)", [
    "image(t)->identity(t)",
    "speech(c)+identity(t)+image(t)->expression(c)",
    "image(t)+expression(c)->semantic(c)",
    "image(t)+semantic(c)+speech(c)->description(t)",
    "video(c)",
], "speech + reference image -> video, thinking through identity, expression, semantic, description (paper Tab. 3 full)")

#: Paper Tab. 3 "w/o Thinking". Video is rendered from semantic + image + description here, so
#: the direct chain emits semantic straight from {speech, image} and the description the
#: renderer needs from the same inputs plus that semantic (as the full chain does), without the
#: intermediate identity and expression.
SPEECH_TO_VIDEO_DIRECT = _chain("speech-to-video-direct", "speech(c)+image(t)", [
    "speech(c)+image(t)->semantic(c)",
    "image(t)+semantic(c)+speech(c)->description(t)",
    "video(c)",
], "speech + reference image -> video without thinking: semantic directly from the conditions (paper Tab. 3 w/o thinking)")

#: Paper Sec. 4.2 / Fig. 4(a): a description (optionally with a script) -> every modality.
TEXT_TO_ALL = _chain("text-to-all", "description(t)", [
    "description(t)->script(c)",
    "description(t)+script(c)->speech(c)",
    "description(t)->image(t)",
    "description(t)+script(c)+speech(c)->identity(t)",
    "description(t)+script(c)+speech(c)+image(t)+identity(t)->expression(c)",
    "speech(c)+identity(t)+expression(c)+image(t)->pose(c)",
    "description(t)+script(c)+speech(c)+identity(t)+expression(c)+pose(c)+image(t)->semantic(c)",
    "video(c)",
], "description (+ optional script) -> script, speech, image, 3DMM, semantic, video (paper Fig. 4a)",
    optional="script(c)")

#: Paper Fig. 4(b): speech -> appearance (description) and script, then everything else.
SPEECH_TO_ALL = _chain("speech-to-all", "speech(c)", [
    "speech(c)->description(t)",
    "speech(c)->script(c)",
    "description(t)+script(c)+speech(c)->identity(t)",
    "description(t)->image(t)",
    "description(t)+script(c)+speech(c)+image(t)+identity(t)->expression(c)",
    "speech(c)+identity(t)+expression(c)+image(t)->pose(c)",
    "description(t)+script(c)+speech(c)+identity(t)+expression(c)+pose(c)+image(t)->semantic(c)",
    "video(c)",
], "speech -> description, script, 3DMM, image, semantic, video (paper Fig. 4b)")

#: Paper Fig. 4(c): fine-grained control with 3DMM and a reference image.
ANIMATION_TO_VIDEO = _chain("animation-to-video", "identity(t)+expression(c)+pose(c)+image(t)", [
    "image(t)+identity(t)+expression(c)+pose(c)->semantic(c)",
    "image(t)+semantic(c)->description(t)",
    "video(c)",
], "3DMM (identity, expression, pose) + image -> semantic, description, video (paper Fig. 4c)")

#: Paper Fig. 4(d), understanding from a semantic video: lip reading, voice, 3DMM, description.
SEMANTIC_TO_ALL = _chain("semantic-to-all", "semantic(c)", [
    "semantic(c)->expression(c)",
    "semantic(c)->pose(c)",
    "semantic(c)->script(c)",
    "script(c)+semantic(c)->speech(c)",
    "speech(c)->identity(t)",
    "identity(t)+expression(c)+pose(c)->description(t)",
], "semantic video -> expression, pose, script (lip reading), speech, identity, description (paper Fig. 4d)")

#: Paper Fig. 4(d), understanding a video. The LM reads video through its semantic rendering
#: and a reference frame (video itself is rendered, never tokenized).
VIDEO_TO_ALL = _chain("video-to-all", "semantic(c)+image(t)", [
    "semantic(c)->script(c)",
    "script(c)+semantic(c)->speech(c)",
    "image(t)->identity(t)",
    "semantic(c)->expression(c)",
    "semantic(c)->pose(c)",
    "image(t)+semantic(c)+speech(c)+script(c)->description(t)",
], "a video (as its semantic video + a frame) -> script, speech, 3DMM, description (paper Fig. 4d)")

# ---------------------------------------------------------------------- Table 2's chains
#: Paper Tab. 2, our model: speech from a script and a face image (Table G's script(c)+image(t)->speech(c)).
IMAGE_TO_SPEECH = Chain("image-to-speech", (_s("script(c)"), _s("image(t)")), (
    ChainStep(_s("speech(c)"), (_s("script(c)"), _s("image(t)"))),
), description="script + face image -> speech (paper Tab. 2, image-conditioned TTS)")

#: The same, thinking through the identity the image shows (image -> identity -> speech).
IMAGE_TO_SPEECH_THINKING = Chain("image-to-speech-thinking", (_s("script(c)"), _s("image(t)")), (
    ChainStep(_s("identity(t)"), (_s("image(t)"),)),
    ChainStep(_s("speech(c)"), (_s("script(c)"), _s("identity(t)"))),
), description="script + face image -> identity -> speech (image-conditioned TTS, thinking in 3DMM)")

#: Reference row: speech from the ground-truth description and the script (not image-conditioned).
DESCRIPTION_TO_SPEECH = Chain("description-to-speech", (_s("description(t)"), _s("script(c)")), (
    ChainStep(_s("speech(c)"), (_s("description(t)"), _s("script(c)"))),
), description="ground-truth description + script -> speech (reference; not image-conditioned)")

# ---------------------------------------------------------------------- the editing chains
def _editing(name: str, conditions: str, steps: tuple[ChainStep, ...], edits: tuple[str, ...], description: str,
             voice: tuple[str, ...] = (), checks: tuple[EditCheck, ...] = ()) -> EditingChain:
    chain = Chain(name, chain_slots(conditions), steps, description=description)
    return EditingChain(name, chain, edits, voice, description, checks)

#: The script edit's figures (paper Sec. 4.2: new words, the same voice).
SCRIPT_CHECKS = (
    EditCheck("words_vs_edited_script", "speech_wer", "edit",
              "word error rate of the recognized new speech against the edited script (low: the words follow the edit)"),
    EditCheck("words_vs_original_script", "speech_wer", "clip",
              "word error rate of the recognized new speech against the clip's own script (high: the words changed)"),
    EditCheck("characters_vs_edited_script", "speech_cer", "edit",
              "character error rate of the recognized new speech against the edited script (tells espeak-like "
              "speech from another script more surely than the word rate does: docs/eval/editing.md)"),
    EditCheck("characters_vs_original_script", "speech_cer", "clip",
              "character error rate of the recognized new speech against the clip's own script"),
    EditCheck("voice_similarity_to_original", "voice_speaker_similarity", "clip",
              "cosine of the speaker embeddings of the new speech and the clip's own speech (high: the voice is kept)"),
    EditCheck("pitch_error_to_original", "voice_pitch_error_semitones", "clip",
              "semitones between the median F0 of the new speech and of the clip's own speech (low: the pitch is kept)"),
)

#: Fig. 5(a): the edited script spoken in the clip's voice; lips, pose and video follow.
EDIT_SCRIPT = _editing("edit-script", "script(c)+speech(p)+image(t)+identity(t)", chain_steps(
    "script(c)+speech(p)->speech(c)",
    "speech(c)+identity(t)+image(t)->expression(c)",
    "speech(c)+identity(t)+expression(c)+image(t)->pose(c)",
    "image(t)+identity(t)+expression(c)+pose(c)->semantic(c)",
    "video(c)",
), ("script",), "new speech for an edited script in the clip's own voice, then lips, pose, semantic, video (Fig. 5a)",
    voice=("speech",), checks=SCRIPT_CHECKS)

#: Fig. 5(b): appearance from an edited description; script, speech and motion are kept.
EDIT_DESCRIPTION = _editing("edit-description", "description(t)+script(c)+speech(c)+expression(c)+pose(c)", chain_steps(
    "description(t)->image(t)",
    "description(t)+script(c)+speech(c)->identity(t)",
    "description(t)+script(c)+speech(c)+identity(t)+expression(c)+pose(c)+image(t)->semantic(c)",
    "video(c)",
), ("description",), "a new appearance (image, identity, semantic, video) from an edited description (Fig. 5b)")

#: Fig. 5(c): expression and pose of another clip drive this clip's appearance.
REENACT = _editing("reenact", "expression(c)+pose(c)+image(t)+identity(t)", chain_steps(
    "image(t)+identity(t)+expression(c)+pose(c)->semantic(c)",
    "video(c)",
), ("expression", "pose"), "reenactment: expression and pose from another clip, appearance from this one (Fig. 5c)")

#: The named chains, in the order `archon list-chains` shows them.
CHAINS: tuple[Chain, ...] = (SPEECH_TO_VIDEO, SPEECH_TO_VIDEO_DIRECT, TEXT_TO_ALL, SPEECH_TO_ALL, ANIMATION_TO_VIDEO,
                             SEMANTIC_TO_ALL, VIDEO_TO_ALL)
#: The editing chains (``archon edit``).
EDITING_CHAINS: tuple[EditingChain, ...] = (EDIT_SCRIPT, EDIT_DESCRIPTION, REENACT)
