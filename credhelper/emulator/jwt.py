"""RS256 JSON Web Tokens, JWKs and self-signed certificates, with the cryptography package."""

import base64
import datetime
import hashlib
import json

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

RSA_KEY_BITS = 2048
CERT_LIFETIME_DAYS = 3650


class JWTError(ValueError):
    """A token that is malformed or whose signature does not verify."""


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)


def key_id(public_key):
    """A 40-hex-digit id derived from the public key, shaped like Google's private_key_id."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha1(der).hexdigest()


def private_pem(private_key):
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode("ascii")


def public_pem(public_key):
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def load_private_pem(pem):
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_pem(pem):
    """An RSA public key from a PEM public key or X.509 certificate (what Google's key upload accepts)."""
    data = pem.encode("ascii")
    if b"CERTIFICATE" in data:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def public_jwk(public_key, kid):
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": b64url(_int_bytes(numbers.n)), "e": b64url(_int_bytes(numbers.e))}


def _int_bytes(value):
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def public_key_from_jwk(jwk):
    if jwk.get("kty") != "RSA":
        raise ValueError("only RSA keys are supported")
    n = int.from_bytes(b64url_decode(jwk["n"]), "big")
    e = int.from_bytes(b64url_decode(jwk["e"]), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


def self_signed_cert_pem(private_key, common_name, now=None):
    """An X.509 certificate for the key, as Google publishes at /oauth2/v1/certs."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=CERT_LIFETIME_DAYS))
            .sign(private_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def sign_bytes(private_key, data):
    return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def encode(private_key, claims, kid=None):
    header = {"alg": "RS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    return signing_input + "." + b64url(sign_bytes(private_key, signing_input.encode("ascii")))


def decode(token):
    """(header, claims) without checking the signature; raises JWTError if malformed."""
    try:
        header_b64, claims_b64, _ = token.split(".")
        header, claims = json.loads(b64url_decode(header_b64)), json.loads(b64url_decode(claims_b64))
    except (AttributeError, ValueError, UnicodeError):
        raise JWTError("malformed JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JWTError("malformed JWT")
    return header, claims


def verify(token, public_keys):
    """(header, claims) if `token` is RS256-signed by one of `public_keys` ({kid: key}).

    The header's kid picks the key; without a kid every key is tried. Raises JWTError.
    """
    header, claims = decode(token)
    if header.get("alg") != "RS256":
        raise JWTError("unsupported JWT algorithm")
    kid = header.get("kid")
    candidates = [public_keys[kid]] if kid in public_keys else ([] if kid else list(public_keys.values()))
    signing_input, _, signature = token.rpartition(".")
    try:
        signature = b64url_decode(signature)
    except ValueError:
        raise JWTError("malformed JWT signature") from None
    for key in candidates:
        try:
            key.verify(signature, signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
            return header, claims
        except InvalidSignature:
            continue
    raise JWTError("invalid JWT signature")
