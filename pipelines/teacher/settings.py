"""Settings for the teacher and student web app (env prefix ``TEACHER_``)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from warehouse.tables import DEFAULT_ORG


class TeacherSettings(BaseSettings):
    """Where the app listens, how it signs sessions, and how it reaches the LRS."""

    model_config = SettingsConfigDict(env_prefix="TEACHER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8081
    # Signs the session cookie. Empty: a random key per process (sessions end on restart).
    secret_key: SecretStr = SecretStr("")
    # Only over HTTPS in production (the cookie is then never sent in clear).
    cookie_secure: bool = False
    session_max_age_s: int = 8 * 3600
    # The school whose roster, accounts and notes this app serves.
    org: str = DEFAULT_ORG
    # Check-ins and student voice become statements through the LRS, as the check-in tool.
    lrs_url: str = "http://127.0.0.1:8080/xAPI"
    lrs_key: str = "teacher-app"
    lrs_secret: SecretStr = SecretStr("")
    lrs_timeout_s: float = 10.0
    # Ids of the app's own activities (goals, interests, notes) start with this.
    activity_base: str = "https://app.example-school.org"
    # Dates and times on every page are shown in the school's zone.
    timezone: str = "UTC"
    # Roster names and class titles are re-read at most this often (seconds; 0: every page).
    names_ttl_s: float = 15.0
    # Failed sign-ins per username and per client address within the window, then 429.
    signin_attempts: int = 5
    signin_window_s: float = 300.0
