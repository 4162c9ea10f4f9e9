"""Provenance of everything generated: C2PA Content Credentials, an invisible watermark, verification.

```python
from archon_framework.provenance import verify_files, embed_watermark, detect_watermark

for r in verify_files(["runs/gen/video.mp4"]):
    print(r.status, r.checkpoint, r.step, r.altered)
```

`archon generate` and `archon demo` stamp their outputs by default (`write_outputs(...,
provenance=ProvenanceConfig(enabled=False))` or `archon generate --no-provenance` turns it off, and
the run's manifest.json says so). See docs/provenance.md.
"""

from archon_framework.provenance._credentials import (
    ASSERTION,
    EMBEDDED,
    SIDECAR_SUFFIX,
    CredentialSigner,
    ProvenanceError,
    sidecar_path,
)
from archon_framework.provenance._identity import (
    SigningIdentity,
    ensure_dev_identity,
    provenance_dir,
    signing_identity,
    trust_anchors,
)
from archon_framework.provenance._records import (
    TRAINED_ALGORITHMIC_MEDIA,
    ProvenanceConfig,
    ProvenanceStep,
    file_sha256,
    framework_version,
    installed_plugins,
    value_sha256,
)
from archon_framework.provenance._stamp import WATERMARK_NAME, condition_hashes, generation_record, manifest_section, sign_files, stamp_value
from archon_framework.provenance._verify import STATUSES, VerifyResult, read_frames, verify_file, verify_files
from archon_framework.provenance._watermark import (
    ARCHON_PAYLOAD,
    WatermarkReading,
    detect_watermark,
    embed_watermark,
    payload_bits,
)

__all__ = [
    "ARCHON_PAYLOAD",
    "ASSERTION",
    "EMBEDDED",
    "SIDECAR_SUFFIX",
    "STATUSES",
    "TRAINED_ALGORITHMIC_MEDIA",
    "WATERMARK_NAME",
    "CredentialSigner",
    "ProvenanceConfig",
    "ProvenanceError",
    "ProvenanceStep",
    "SigningIdentity",
    "VerifyResult",
    "WatermarkReading",
    "condition_hashes",
    "detect_watermark",
    "embed_watermark",
    "ensure_dev_identity",
    "file_sha256",
    "framework_version",
    "generation_record",
    "installed_plugins",
    "manifest_section",
    "payload_bits",
    "provenance_dir",
    "read_frames",
    "sidecar_path",
    "sign_files",
    "signing_identity",
    "stamp_value",
    "trust_anchors",
    "value_sha256",
    "verify_file",
    "verify_files",
]
