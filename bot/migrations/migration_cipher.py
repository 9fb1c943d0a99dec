"""The cipher a data migration encrypts and decrypts with, found on first use only.

A caller may hand a ``bot.runtime.secrets.TokenCipher`` in ``config.attributes["token_cipher"]``;
otherwise it is the cipher ``bot.runtime.secrets.cipher_from_environment`` gives for this database
(``SEATBOT_TOKEN_KEYS``, else the SQLite key file), so ``seatbot db upgrade``, ``serve`` and
``load`` need nothing new. Looked up lazily, so that a database with nothing to encrypt (every
new one) migrates without a key.
"""

from __future__ import annotations

from alembic import context, op

from bot.runtime.secrets import TokenCipher, cipher_from_environment


class LazyCipher:
    """The migration's cipher, found on the first :meth:`get`."""

    def __init__(self) -> None:
        self._cipher: TokenCipher | None = None

    def get(self) -> TokenCipher:
        if self._cipher is None:
            attributes = context.config.attributes
            given = attributes.get("token_cipher")
            if isinstance(given, TokenCipher):
                self._cipher = given
            else:
                url = attributes.get("url") or op.get_bind().engine.url.render_as_string(
                    hide_password=True
                )
                self._cipher = cipher_from_environment(str(url))
        return self._cipher
