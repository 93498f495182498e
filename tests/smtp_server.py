"""A real SMTP server for tests (aiosmtpd in a thread) that can be scripted to fail, after
Mailman's testing/mta.py: it records received mail, counts sessions and takes queued replies."""
import datetime as dt
import socket
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ScriptedHandler:
    """Accepts everything unless told otherwise: `rcpt_replies[address]` is a list of replies
    for that address (used up one per RCPT), `data_replies` a list of replies for DATA, where
    the word "disconnect" drops the connection instead of answering."""

    def __init__(self):
        self.messages = []  # (mail_from, rcpt_tos, content bytes)
        self.sessions = 0
        self.rcpt_replies = {}
        self.data_replies = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        replies = self.rcpt_replies.get(address)
        if replies:
            return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            reply = self.data_replies.pop(0)
            if reply == "disconnect":
                server.transport.close()
                return "421 closing"
            return reply
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK queued"

    def parsed(self):
        """(envelope recipients, parsed message) of every received mail, in order."""
        import email
        from email import policy

        return [(rcpts, email.message_from_bytes(content, policy=policy.default)) for _f, rcpts, content in self.messages]

    def recipients(self):
        """Every envelope recipient that received a message, in order."""
        return [r for _f, rcpts, _c in self.messages for r in rcpts]


def self_signed_context(tmp_path):
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1 (via cryptography)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx, str(cert_file)


def password_authenticator(user, password):
    """An aiosmtpd authenticator accepting exactly one user/password pair."""
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)
    return authenticate


class CountingController(Controller):
    """A Controller that counts SMTP sessions in handler.sessions (one protocol per connection)."""

    def factory(self):
        self.handler.sessions += 1
        return super().factory()


def start_server(handler=None, port=None, **kw):
    """A started server on a free port (session count reset after the start-up probe)."""
    controller = CountingController(handler or ScriptedHandler(), hostname="127.0.0.1", port=port or free_port(),
                                    **kw)
    controller.start()
    controller.handler.sessions = 0
    return controller
