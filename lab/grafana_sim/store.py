"""The Grafana simulator's state and rules, kept apart from HTTP.

Semantics follow Grafana's documented legacy HTTP API (``/api/dashboards/db``, folders, data
sources, annotations): dashboards are keyed by ``uid`` (at most 40 characters); an update must
carry the stored ``version`` unless ``overwrite`` is set (else 412 ``version-mismatch``); a
different dashboard with the same title in the same folder gives 412 ``name-exists``; an update
that sends neither ``folderUid`` nor ``folderId`` moves the dashboard to the root folder.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApiError", "GrafanaState"]


class ApiError(Exception):
    """An HTTP error with Grafana's JSON body (``message`` and, for 412, ``status``)."""

    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.body: dict[str, Any] = {"message": message}
        if status:
            self.body["status"] = status


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "dashboard"


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class GrafanaState:
    """Folders, data sources, dashboards and annotations of one simulated organisation."""

    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    _ids: int = 0

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    # -- folders ------------------------------------------------------------------------------

    def create_folder(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/folders``."""
        title = str(body.get("title") or "").strip()
        if not title:
            raise ApiError(400, "folder title cannot be empty")
        uid = str(body.get("uid") or secrets.token_hex(7))
        if uid in self.folders:
            raise ApiError(409, "a folder with the same uid already exists")
        if any(f["title"].lower() == title.lower() for f in self.folders.values()):
            raise ApiError(409, "a folder or dashboard in the general folder with the same name already exists")
        folder = {
            "id": self._next_id(),
            "uid": uid,
            "title": title,
            "url": f"/dashboards/f/{uid}/{_slug(title)}",
            "version": 1,
            "parentUid": body.get("parentUid"),
        }
        self.folders[uid] = folder
        return folder

    def folder(self, uid: str) -> dict[str, Any]:
        """``GET /api/folders/:uid``."""
        if uid not in self.folders:
            raise ApiError(404, "folder not found")
        return self.folders[uid]

    def delete_folder(self, uid: str) -> dict[str, Any]:
        """``DELETE /api/folders/:uid``: the folder and every dashboard in it."""
        folder = self.folder(uid)
        for dash_uid in [u for u, d in self.dashboards.items() if d["folderUid"] == uid]:
            del self.dashboards[dash_uid]
        del self.folders[uid]
        return {"message": "Folder deleted", "id": folder["id"], "title": folder["title"]}

    # -- data sources -------------------------------------------------------------------------

    def add_datasource(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/datasources``."""
        name = str(body.get("name") or "")
        if not name or not body.get("type"):
            raise ApiError(400, "name and type are required")
        if any(d["name"] == name for d in self.datasources.values()):
            raise ApiError(409, "data source with the same name already exists")
        uid = str(body.get("uid") or secrets.token_hex(7))
        source = {
            "id": self._next_id(),
            "uid": uid,
            "name": name,
            "type": body["type"],
            "url": body.get("url", ""),
            "access": body.get("access", "proxy"),
            "isDefault": bool(body.get("isDefault", False)),
        }
        self.datasources[uid] = source
        return {"datasource": source, "id": source["id"], "message": "Datasource added", "name": name}

    def datasource(self, *, uid: str | None = None, name: str | None = None) -> dict[str, Any]:
        """``GET /api/datasources/uid/:uid`` or ``/name/:name``."""
        for source in self.datasources.values():
            if (uid and source["uid"] == uid) or (name and source["name"] == name):
                return source
        raise ApiError(404, "Data source not found")

    # -- dashboards ---------------------------------------------------------------------------

    def _folder_of(self, body: dict[str, Any]) -> str:
        if body.get("folderUid"):
            uid = str(body["folderUid"])
            if uid not in self.folders:
                raise ApiError(400, "folder not found")
            return uid
        folder_id = body.get("folderId")
        if folder_id:
            for folder in self.folders.values():
                if folder["id"] == folder_id:
                    return str(folder["uid"])
            raise ApiError(400, "folder not found")
        return ""

    def save_dashboard(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/dashboards/db``: create, update or overwrite by uid."""
        dashboard = body.get("dashboard")
        if not isinstance(dashboard, dict):
            raise ApiError(400, "bad request data: dashboard is required")
        title = str(dashboard.get("title") or "").strip()
        if not title:
            raise ApiError(400, "Dashboard title cannot be empty")
        uid = str(dashboard.get("uid") or "")
        if len(uid) > 40:
            raise ApiError(400, "Dashboard UID too long")
        overwrite = bool(body.get("overwrite", False))
        folder_uid = self._folder_of(body)
        existing = self.dashboards.get(uid) if uid else None
        dash_id = dashboard.get("id")
        if existing is None and dash_id:
            existing = next((d for d in self.dashboards.values() if d["id"] == dash_id), None)
            if existing is None:
                raise ApiError(404, "Dashboard not found")
        if existing is not None and dash_id and dash_id != existing["id"]:
            raise ApiError(400, "A dashboard with the same uid already exists")
        if existing is not None and not overwrite and dashboard.get("version") != existing["version"]:
            raise ApiError(412, "The dashboard has been changed by someone else", "version-mismatch")
        uid = uid or (existing["uid"] if existing else secrets.token_hex(7))
        for other_uid, other in list(self.dashboards.items()):
            same_place = other["folderUid"] == folder_uid and other["title"].lower() == title.lower()
            if other_uid != uid and same_place:
                if not overwrite:
                    raise ApiError(412, "A dashboard with the same name in the folder already exists", "name-exists")
                del self.dashboards[other_uid]
        version = existing["version"] + 1 if existing else 1
        model: dict[str, Any] = {**dashboard, "uid": uid, "version": version}
        record: dict[str, Any] = {
            "id": existing["id"] if existing else self._next_id(),
            "uid": uid,
            "title": title,
            "version": version,
            "folderUid": folder_uid,
            "model": model,
            "created": existing["created"] if existing else _now_ms(),
            "updated": _now_ms(),
        }
        model["id"] = record["id"]
        self.dashboards[uid] = record
        slug = _slug(title)
        return {
            "id": record["id"],
            "uid": uid,
            "url": f"/d/{uid}/{slug}",
            "status": "success",
            "version": version,
            "slug": slug,
        }

    def dashboard(self, uid: str) -> dict[str, Any]:
        """``GET /api/dashboards/uid/:uid``."""
        record = self.dashboards.get(uid)
        if record is None:
            raise ApiError(404, "Dashboard not found")
        folder = self.folders.get(record["folderUid"])
        return {
            "dashboard": record["model"],
            "meta": {
                "type": "db",
                "slug": _slug(record["title"]),
                "url": f"/d/{uid}/{_slug(record['title'])}",
                "version": record["version"],
                "folderId": folder["id"] if folder else 0,
                "folderUid": record["folderUid"],
                "folderTitle": folder["title"] if folder else "General",
            },
        }

    def delete_dashboard(self, uid: str) -> dict[str, Any]:
        """``DELETE /api/dashboards/uid/:uid``."""
        record = self.dashboards.pop(uid, None)
        if record is None:
            raise ApiError(404, "Dashboard not found")
        return {"title": record["title"], "message": f"Dashboard {record['title']} deleted", "id": record["id"]}

    def search(self, query: str = "") -> list[dict[str, Any]]:
        """``GET /api/search?type=dash-db&query=``."""
        return [
            {
                "id": d["id"],
                "uid": d["uid"],
                "title": d["title"],
                "type": "dash-db",
                "folderUid": d["folderUid"],
                "url": f"/d/{d['uid']}/{_slug(d['title'])}",
            }
            for d in self.dashboards.values()
            if query.lower() in d["title"].lower()
        ]

    # -- annotations --------------------------------------------------------------------------

    def add_annotation(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/annotations``."""
        text = str(body.get("text") or "")
        if not text:
            raise ApiError(400, "text field should not be empty")
        when = int(body.get("time") or _now_ms())
        note = {
            "id": self._next_id(),
            "dashboardUID": body.get("dashboardUID") or "",
            "panelId": int(body.get("panelId") or 0),
            "time": when,
            "timeEnd": int(body.get("timeEnd") or when),
            "tags": [str(tag) for tag in body.get("tags") or []],
            "text": text,
        }
        self.annotations.append(note)
        return {"message": "Annotation added", "id": note["id"]}

    def find_annotations(self, tags: list[str], dashboard_uid: str | None, limit: int) -> list[dict[str, Any]]:
        """``GET /api/annotations``: newest first, every given tag must match."""
        found = [
            note
            for note in self.annotations
            if all(tag in note["tags"] for tag in tags)
            and (dashboard_uid is None or note["dashboardUID"] == dashboard_uid)
        ]
        return sorted(found, key=lambda note: note["time"], reverse=True)[:limit]
