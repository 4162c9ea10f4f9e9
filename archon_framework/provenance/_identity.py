"""Who signs the Content Credentials: a development identity made on first use, or an organisation's.

C2PA refuses a self-signed end-entity certificate, so the development identity is a two-link
chain, both made locally with `cryptography` the first time anything is signed:

- ``dev-root.pem``: a local root CA (ECDSA P-256), the trust anchor `archon verify` accepts;
- ``dev-signer.pem`` (the signer's certificate, then the root) and ``dev-signer.key`` (mode 0600).

They live in the user's config dir: ``$ARCHON_PROVENANCE_DIR``, else
``$XDG_CONFIG_HOME/archon/provenance``, else ``~/.config/archon/provenance``. Nothing of it is
ever committed or shipped. An organisation signs with its own certificate (issued by a CA on the
C2PA trust list, or by its own CA) by setting ``ARCHON_C2PA_CERT`` (PEM chain, signer first),
``ARCHON_C2PA_KEY`` (PEM private key), optionally ``ARCHON_C2PA_ALG`` (es256, es384, es512,
ps256, ps384, ps512, ed25519) and ``ARCHON_C2PA_TSA`` (a time-stamp authority URL), and verifies
against its anchors with ``ARCHON_C2PA_TRUST`` or ``archon verify --trust FILE``.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import attrs

from archon_framework._errors import ConfigError
from archon_framework.config import atomic_write_bytes

__all__ = ["SigningIdentity", "check_identity", "provenance_dir", "signing_identity", "trust_anchors", "ensure_dev_identity"]

_ALGS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")


@attrs.frozen(kw_only=True)
class SigningIdentity:
    """A signer's certificate chain and key (PEM bytes), and where they came from.

    Attributes:
        cert_chain: PEM certificates, the signer's first.
        private_key: PEM private key of the first certificate.
        alg: the C2PA signing algorithm name (es256...).
        tsa_url: a time-stamp authority, or None (offline).
        source: ``"development"`` or the certificate file's path.
    """

    cert_chain: bytes = attrs.field(repr=False)
    private_key: bytes = attrs.field(repr=False)
    alg: str = attrs.field(default="es256", validator=attrs.validators.in_(_ALGS))
    tsa_url: str | None = None
    source: str = "development"


def provenance_dir() -> Path:
    """The folder of the development identity (see the module docstring)."""
    if os.environ.get("ARCHON_PROVENANCE_DIR"):
        return Path(os.environ["ARCHON_PROVENANCE_DIR"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "archon" / "provenance"


def _name(common: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "archon-framework development"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _usage(*, sign: bool):
    from cryptography import x509

    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
                         crl_sign=not sign, encipher_only=False, decipher_only=False)


def _make_dev_identity(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (x509.CertificateBuilder().subject_name(_name("archon development root")).issuer_name(_name("archon development root"))
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(sign=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("archon development signer")).issuer_name(root.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(sign=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    folder.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # the key first and private, so a crash never leaves a certificate without its key
    atomic_write_bytes(folder / "dev-signer.key", key_pem)
    os.chmod(folder / "dev-signer.key", 0o600)
    atomic_write_bytes(folder / "dev-root.pem", root.public_bytes(pem))
    atomic_write_bytes(folder / "dev-signer.pem", cert.public_bytes(pem) + root.public_bytes(pem))


def ensure_dev_identity() -> Path:
    """Create the development identity if it is not there yet; returns its folder."""
    folder = provenance_dir()
    if not all((folder / f).is_file() for f in ("dev-root.pem", "dev-signer.pem", "dev-signer.key")):
        try:
            _make_dev_identity(folder)
        except OSError as err:
            raise ConfigError(f"could not write the development signing identity to {folder}: {err} "
                              "(set ARCHON_PROVENANCE_DIR to a writable folder)") from err
    return folder


def _read(env: str) -> tuple[bytes, str]:
    path = Path(os.environ[env]).expanduser()
    try:
        return path.read_bytes(), str(path)
    except OSError as err:
        raise ConfigError(f"{env}={path}: cannot read it ({err})") from err


def check_identity(identity: SigningIdentity) -> None:
    """Refuse a chain that does not parse, a key that does not parse, or a key of another certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    where = identity.source
    try:
        certs = x509.load_pem_x509_certificates(identity.cert_chain)
    except ValueError as err:
        raise ConfigError(f"signing certificate {where}: not a PEM certificate chain ({err})") from err
    try:
        key = serialization.load_pem_private_key(identity.private_key, password=None)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"signing key of {where}: not an unencrypted PEM private key ({err})") from err
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if certs[0].public_key().public_bytes(enc, pub) != key.public_key().public_bytes(enc, pub):
        raise ConfigError(f"signing key of {where}: it is not the key of the chain's first certificate")


def signing_identity() -> SigningIdentity:
    """The organisation's identity from ``ARCHON_C2PA_CERT``/``ARCHON_C2PA_KEY``, else the development one."""
    cert_set, key_set = bool(os.environ.get("ARCHON_C2PA_CERT")), bool(os.environ.get("ARCHON_C2PA_KEY"))
    if cert_set != key_set:
        raise ConfigError("set both ARCHON_C2PA_CERT and ARCHON_C2PA_KEY (a certificate chain and its private key), or neither")
    alg = os.environ.get("ARCHON_C2PA_ALG", "es256").lower()
    if alg not in _ALGS:
        raise ConfigError(f"ARCHON_C2PA_ALG={alg!r}: expected one of {', '.join(_ALGS)}")
    tsa = os.environ.get("ARCHON_C2PA_TSA") or None
    if cert_set:
        chain, where = _read("ARCHON_C2PA_CERT")
        key, _ = _read("ARCHON_C2PA_KEY")
        return SigningIdentity(cert_chain=chain, private_key=key, alg=alg, tsa_url=tsa, source=where)
    folder = ensure_dev_identity()
    return SigningIdentity(cert_chain=(folder / "dev-signer.pem").read_bytes(),
                           private_key=(folder / "dev-signer.key").read_bytes(), alg="es256", tsa_url=tsa)


def trust_anchors(extra: Path | None = None) -> str:
    """PEM trust anchors for verification: the development root (if made), ``ARCHON_C2PA_TRUST``, `extra`."""
    parts: list[bytes] = []
    dev = provenance_dir() / "dev-root.pem"
    if dev.is_file():
        parts.append(dev.read_bytes())
    if os.environ.get("ARCHON_C2PA_TRUST"):
        parts.append(_read("ARCHON_C2PA_TRUST")[0])
    if extra is not None:
        try:
            parts.append(Path(extra).read_bytes())
        except OSError as err:
            raise ConfigError(f"--trust {extra}: cannot read it ({err})") from err
    return b"\n".join(p.strip() for p in parts).decode("ascii", errors="replace")
