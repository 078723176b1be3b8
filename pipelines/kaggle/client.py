"""The Kaggle API through the `kaggle` package, imported only by the functions that talk to Kaggle.

`import kaggle` authenticates at import time and prints help (or exits) without credentials,
so the package is imported lazily here with its output captured. Every failure becomes one
UserError naming the fix; messages never carry the key or token.
"""
import base64
import contextlib
import io
import json
import os
from pathlib import Path

from pipelines.core.errors import UserError

CREDENTIALS_HELP = (
    "set KAGGLE_API_TOKEN, or KAGGLE_USERNAME and KAGGLE_KEY, or save the kaggle.json that "
    "https://www.kaggle.com/settings (API: Create New Token) gives you as ~/.kaggle/kaggle.json"
)


def credential_files():
    home = Path.home()
    config_dirs = [Path(os.environ["KAGGLE_CONFIG_DIR"])] if os.environ.get("KAGGLE_CONFIG_DIR") else []
    config_dirs += [home / ".kaggle", Path(os.environ.get("XDG_CONFIG_HOME", home / ".config")) / "kaggle"]
    tokens = [home / ".kaggle" / name for name in ("access_token", "access_token.txt", "credentials.json")]
    return [d / "kaggle.json" for d in config_dirs] + tokens


def has_credentials():
    """Whether the kaggle package's own lookup has something to find (checked without importing it)."""
    if os.environ.get("KAGGLE_API_TOKEN") or (os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")):
        return True
    return any(path.is_file() for path in credential_files())


def secrets():
    """Values that must never be printed: the key and token from the environment and kaggle.json."""
    values = [os.environ.get(name) for name in ("KAGGLE_KEY", "KAGGLE_API_TOKEN")]
    for path in credential_files():
        with contextlib.suppress(OSError, ValueError):
            text = path.read_text().strip()
            values.append(text)
            values.append(json.loads(text).get("key"))
    return [value for value in values if value and len(value) >= 4]


def redact(text):
    text, user = str(text), os.environ.get("KAGGLE_USERNAME", "")
    for secret in secrets():  # each value, and the base64("user:key") of a Basic authorization header
        text = text.replace(base64.b64encode(f"{user}:{secret}".encode()).decode(), "***").replace(secret, "***")
    return text


@contextlib.contextmanager
def quiet_output():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def connect():
    """An authenticated KaggleApi whose requests go where KAGGLE_API_ENVIRONMENT says
    (the kaggle package itself only honours LOCALHOST there)."""
    if not has_credentials():
        raise UserError(f"no Kaggle credentials: {CREDENTIALS_HELP}")
    os.environ.pop("VERBOSE", None)  # the client prints request headers (the key) in verbose mode
    os.environ.pop("VERBOSE_OUTPUT", None)
    try:
        with quiet_output():  # the package authenticates at import and prints help on failure
            from kaggle.api.kaggle_api_extended import KaggleApi
            from kagglesdk import KaggleClient
            from kagglesdk.kaggle_env import get_env
    except ImportError as error:
        raise UserError(f"cannot import the kaggle package ({error}): pip install kaggle") from None

    class Api(KaggleApi):
        def build_kaggle_client(self):
            return KaggleClient(env=get_env(), verbose=False,
                                username=self.config_values.get(self.CONFIG_NAME_USER),
                                password=self.config_values.get(self.CONFIG_NAME_KEY),
                                api_token=self.config_values.get(self.CONFIG_NAME_TOKEN),
                                response_processor=self.get_response_processor())

    api = Api()
    with kaggle_errors("signing in"), quiet_output():
        try:
            api.authenticate()
        except SystemExit:
            raise UserError(f"no usable Kaggle credentials: {CREDENTIALS_HELP}") from None
    return api


@contextlib.contextmanager
def kaggle_errors(action, slug=None, competition=True):
    """Kaggle's HTTP and network failures as one UserError each (competition=False: the call was not
    about a competition, e.g. a dataset or a notebook)."""
    import requests

    try:
        yield
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else None
        rules = f"https://www.kaggle.com/competitions/{slug}/rules" if slug else "the competition's page on kaggle.com"
        fixes = {
            401: f"Kaggle rejected the credentials (401 Unauthorized) while {action}: check them ({CREDENTIALS_HELP})",
            403: f"Kaggle refused {action} (403 Forbidden): accept the competition's rules at {rules} "
                 "while signed in to the account of your credentials, then retry",
            404: f"Kaggle has no competition {slug!r} (404 Not Found) while {action}: check its name",
        } if competition else {
            401: f"Kaggle rejected the credentials (401 Unauthorized) while {action}: check them ({CREDENTIALS_HELP})",
            403: f"Kaggle refused {action} (403 Forbidden): the name in the metadata must be your account's",
        }
        message = fixes.get(status) or f"Kaggle answered {status or 'an error'} while {action}: {redact(error)}"
        raise UserError(message) from None
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
        raise UserError(f"network error while {action} ({redact(_first_line(error))}); "
                        "check the connection to kaggle.com and retry") from None
    except requests.RequestException as error:  # e.g. an unreadable answer
        raise UserError(f"Kaggle's answer could not be read while {action} ({redact(_first_line(error))}); "
                        "retry later") from None


def _first_line(error):
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]
