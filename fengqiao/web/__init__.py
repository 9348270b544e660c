"""The web app: pages for mediators and supervisors, and the JSON API ``/api/v1``."""

from fengqiao.web.app import create_app
from fengqiao.web.config import RulesInForce, Web

__all__ = ["RulesInForce", "Web", "create_app"]
