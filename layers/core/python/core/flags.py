"""Feature flags: Powertools' FeatureFlags over AWS AppConfig in the cloud, over a JSON file locally.

The document is Powertools' feature-flag schema (a freeform JSON configuration in AppConfig):

    {"ai_replies": {"default": true,
                    "rules": {"AI off in these rooms": {"when_match": false, "conditions": [
                        {"action": "KEY_IN_VALUE", "key": "room_id", "value": ["<room uuid>"]}]}}}}

Each stage has its own AppConfig environment (infra_cdk/constructs/flags.py deploys BASELINE as its
first version); an operator switches a flag by deploying a new version (docs/operations.md), no code
deploy. A function asks AppConfig at most once per `feature_flags_max_age_s` per container.

Cheap to import: Powertools' feature_flags (and boto3's appconfigdata client) load on the first
evaluation, which only the paths that check a flag make. If the store cannot be read, a flag keeps
the value of the last document read in this container, or is at its baseline if none was (logged).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from core.config import CoreSettings, FeatureSettings, setting
from core.errors import FeatureDisabled

if TYPE_CHECKING:
    import uuid

    from aws_lambda_powertools.utilities.feature_flags import FeatureFlags

logger = Logger(child=True)


@dataclass(frozen=True, kw_only=True)
class FlagSettings(FeatureSettings):
    """Functions that check a feature flag (core.flags): rooms, and the ai_worker before each job."""

    # Locally: a JSON file, read again whenever it changes (`make dev` uses local/feature_flags.json).
    feature_flags_file: str | None = setting(
        None,
        doc="locally: the JSON file of the flags, read again whenever it changes (`make dev` sets "
        "`local/feature_flags.json`)",
    )
    # In the cloud: the stage's AWS AppConfig application, environment and configuration profile
    # (CDK sets them where the function can reach AppConfig). Neither: every flag at its baseline.
    appconfig_application: str | None = setting(
        None,
        doc="in the cloud: the stage's AppConfig application (set by CDK); unset: every flag at its baseline",
    )
    appconfig_environment: str | None = setting(None, doc="its AppConfig environment (set by CDK)")
    appconfig_profile: str | None = setting(None, doc="its AppConfig configuration profile (set by CDK)")
    # How long a fetched document is used before AppConfig is asked again (per container).
    feature_flags_max_age_s: int = setting(
        60, ge=1, le=3600, doc="how long a container uses a fetched flags document before asking AppConfig again"
    )


# AI replies in rooms (POST /rooms/{id}/messages with invoke_ai, .../regenerate). Context keys: room_id, stage.
AI_REPLIES = "ai_replies"

# Every flag, at the value it has when nobody switched it: the first version CDK deploys, and the
# answer when no store is configured or the store fails.
BASELINE: dict[str, Any] = {AI_REPLIES: {"default": True}}

AI_OFF_MESSAGE = (
    "AI replies are switched off here for now (feature flag ai_replies); "
    "send the message without invoke_ai, or try again later"
)


def baseline_document() -> str:
    """BASELINE as the JSON document a store holds."""
    return json.dumps(BASELINE, indent=2, sort_keys=True) + "\n"


def enabled(name: str, context: dict[str, Any] | None = None) -> bool:
    """The flag's value for this context (rules matched on its keys), or its baseline value."""
    default = bool(BASELINE[name]["default"])
    settings = FlagSettings.current()
    flags = _flags(
        settings.feature_flags_file,
        settings.appconfig_application,
        settings.appconfig_environment,
        settings.appconfig_profile,
        settings.feature_flags_max_age_s,
    )
    if flags is None:
        return default
    try:
        return bool(flags.evaluate(name=name, context=context or {}, default=default))
    except Exception:  # a broken document or a refused store: the flag stays at its baseline
        logger.exception("feature flag store failed; using the baseline", extra={"flag": name, "default": default})
        return default


def require_ai_replies(room_id: uuid.UUID | str) -> None:
    """Raise FeatureDisabled (503 feature_disabled) when AI replies are off in this stage or this room."""
    if not enabled(AI_REPLIES, {"room_id": str(room_id), "stage": CoreSettings.current().stage}):
        raise FeatureDisabled(AI_OFF_MESSAGE)


@lru_cache(maxsize=4)
def _flags(
    path: str | None, application: str | None, environment: str | None, profile: str | None, max_age_s: int
) -> FeatureFlags | None:
    """One FeatureFlags per store configuration and container (its store caches the document)."""
    if path:
        store: Any = _file_store(Path(path))
    elif application and environment and profile:
        from aws_lambda_powertools.utilities.feature_flags import AppConfigStore
        from botocore.config import Config

        store = AppConfigStore(
            environment=environment,
            application=application,
            name=profile,
            max_age=max_age_s,
            # A slow AppConfig must not eat the request: bounded, then the baseline.
            sdk_config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"}),
        )
    else:
        return None
    from aws_lambda_powertools.utilities.feature_flags import FeatureFlags

    return FeatureFlags(store=_last_read(store))


def _last_read(store: Any) -> Any:
    """The store, but when it cannot be read (AppConfig down or throttled, a file half-written), the
    last document it gave: an operator's switch stays as they set it through an outage. Only a store
    never read yet falls back to the baseline. A document that is read but invalid still does."""
    from aws_lambda_powertools.utilities.feature_flags import StoreProvider

    class LastRead(StoreProvider):
        def __init__(self) -> None:
            self._lock = threading.Lock()
            self._last: dict[str, Any] | None = None

        @property
        def get_raw_configuration(self) -> dict[str, Any]:
            return dict(store.get_raw_configuration)

        def get_configuration(self) -> dict[str, Any]:
            try:
                document = dict(store.get_configuration())
            except Exception:
                with self._lock:
                    last = self._last
                if last is None:
                    raise
                logger.warning("feature flag store unreadable; using the last document read")
                return last
            with self._lock:
                self._last = document
            return document

    return LastRead()


def _file_store(path: Path) -> Any:
    """A Powertools StoreProvider over a JSON file, read again whenever the file changes."""
    from aws_lambda_powertools.utilities.feature_flags import StoreProvider
    from aws_lambda_powertools.utilities.feature_flags.exceptions import ConfigurationStoreError

    class FileStore(StoreProvider):
        def __init__(self) -> None:
            self._lock = threading.Lock()
            self._seen: tuple[int, int, int] | None = None
            self._document: dict[str, Any] = {}

        @property
        def get_raw_configuration(self) -> dict[str, Any]:
            try:
                stat = path.stat()
                key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                with self._lock:
                    if key != self._seen:
                        document = json.loads(path.read_text(encoding="utf-8"))
                        if not isinstance(document, dict):
                            raise ValueError("the document is not a JSON object")
                        self._document, self._seen = document, key
                    return self._document
            except (OSError, ValueError) as exc:
                raise ConfigurationStoreError(f"cannot read the feature flags in {path}: {exc}") from exc

        def get_configuration(self) -> dict[str, Any]:
            return self.get_raw_configuration

    return FileStore()
