"""The whole product on one machine: local AWS, resources, the API, event delivery, schedules, the outbox.

    stack = LocalStack(LocalOptions.from_env())
    info = stack.start()      # what .dunwell/local.json holds
    ...
    stack.stop()

The app is imported (once per process) after the environment points at the local AWS and names the
provisioned resources, exactly as Lambda would see them.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from chalicelib.domain.masking import mask_emails_in
from chalicelib.local.aws import EmbeddedMoto, LocalStackError, check_port_free, client_factory, use_local_aws
from chalicelib.local.cfn_yaml import Resolver, load_template
from chalicelib.local.events import QueuePoller, wire
from chalicelib.local.invoke import Function, Invoker
from chalicelib.local.options import LocalOptions, webhook_secret_defaults
from chalicelib.local.outbox import Outbox, embedded_source, http_source
from chalicelib.local.provision import provision
from chalicelib.local.scheduler import Scheduler, jobs_of
from chalicelib.local.streams import StreamPoller, stream_routes

log = logging.getLogger("dw_local")
LISTEN_BACKLOG = 128


class LocalStack:
    def __init__(self, options: LocalOptions) -> None:
        self.options = options
        self.info: dict[str, Any] = {}
        self.started_in_seconds: float | None = None
        self._stop = threading.Event()
        self._moto: EmbeddedMoto | None = None
        self._api: Any = None
        self._threads: list[threading.Thread] = []
        # Written into local.json: a stack removes the file only if it still names this instance, so a second
        # `make run` that fails (its port is taken) or stops never deletes the running stack's file.
        self.instance_id = uuid.uuid4().hex

    @property
    def local_json(self) -> Path:
        return self.options.state_dir / "local.json"

    def start(self) -> dict[str, Any]:
        started = time.monotonic()
        options = self.options
        options.state_dir.mkdir(parents=True, exist_ok=True)
        self._remove_stale_local_json()
        if not options.template.is_file():
            raise LocalStackError(f"{options.template} not found: the local stack provisions what it defines")
        check_port_free(options.host, options.api_port, "DUNWELL_API_PORT")

        # 1. AWS: an external endpoint, or moto in this process.
        endpoint = options.endpoint_url
        if endpoint is None:
            self._moto = EmbeddedMoto(options.host, options.aws_port)
            endpoint = self._moto.start()
            log.info("moto is serving AWS on %s", endpoint)
        use_local_aws(os.environ, endpoint, options.region)
        clients = client_factory(endpoint, options.region)
        account_id = str(clients("sts").get_caller_identity()["Account"])

        # 2. The resources of infra/resources.yaml, and the environment the functions get from it.
        template = load_template(options.template)
        resolver = Resolver(template, stack_name=options.stack_name, region=options.region, account_id=account_id)
        provisioned = provision(template, resolver, clients)
        if provisioned.skipped:
            log.info("not created locally (not needed to run): %s", ", ".join(provisioned.skipped))
        resolver = resolver.with_resources(provisioned.resources)
        self._verify_mail_sender(clients)
        config = self._chalice_config()
        public_base_url = os.environ.get("PUBLIC_BASE_URL")  # set by the user: kept (a tunnel, a proxy)
        self._apply_environment(provisioned.environment, config.environment_variables)
        self._check_settings()

        # 3. The app, its triggers and the API.
        app = self._import_app()
        invoker = Invoker(
            app,
            config,
            Function(options.region, account_id, str(getattr(app, "app_name", "dunwell")), options.stage),
            options.state_dir / "invocations.jsonl",
        )
        inbox = os.environ.get("INBOX_BUCKET")
        routes = wire(app, template, resolver, clients, inbox)
        api_key = self._issue_admin_key()
        api_url = self._serve_api(app, config)
        self._publish_base_url(public_base_url or api_url)
        for route in routes:
            poller = QueuePoller(route, clients, invoker, self._stop)
            poller.start()
            self._threads.append(poller.thread)
        for stream in stream_routes(app, template, resolver):
            stream_poller = StreamPoller(stream, clients, invoker, self._stop)
            stream_poller.start()
            self._threads.append(stream_poller.thread)
        scheduler = Scheduler(
            jobs_of(app, template, resolver, invoker),
            invoker,
            self._stop,
            fire_at_start=options.schedules_at_start,
            speedup=options.schedule_speedup,
        )
        scheduler.start()
        self._threads.append(scheduler.thread)
        outbox_dir = options.state_dir / "outbox"
        outbox = Outbox(outbox_dir, embedded_source if self._moto else http_source(endpoint))
        self._threads.append(outbox.run(self._stop, options.outbox_interval_seconds))

        self.info = {
            "api_url": api_url,
            "aws_endpoint_url": endpoint,
            "region": options.region,
            "inbox_bucket": inbox,
            "api_key": api_key,
            "webhook_secrets": dict(options.webhook_secrets),
            "outbox_dir": str(outbox_dir),
            "stage": options.stage,
            "stack_name": options.stack_name,
            "mail_from": options.mail_from,
            "invocations_log": str(options.state_dir / "invocations.jsonl"),
            "local_json": str(self.local_json),
            "pid": os.getpid(),
            "instance_id": self.instance_id,
        }
        self._write_local_json()
        self.started_in_seconds = round(time.monotonic() - started, 2)
        log.info("local stack up in %.2f s", self.started_in_seconds)
        return self.info

    def stop(self) -> None:
        self._stop.set()
        if self._api is not None:
            self._api.server.shutdown()
            self._api.server.server_close()
            self._api = None
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(timeout=10)
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._owns_local_json():
            self.local_json.unlink(missing_ok=True)
        log.info("local stack stopped")

    # --- .dunwell/local.json: present <=> the stack it names is up ----------------------------------------

    def _read_local_json(self) -> dict[str, Any] | None:
        try:
            content = json.loads(self.local_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return content if isinstance(content, dict) else None

    def _owns_local_json(self) -> bool:
        content = self._read_local_json()
        return content is not None and content.get("instance_id") == self.instance_id

    def _remove_stale_local_json(self) -> None:
        """A file left by a stack that died without stopping goes; one whose process still runs stays (that
        stack is up, and this one may yet fail to start: its port may be the running one's)."""
        content = self._read_local_json()
        if content is None:
            if self.local_json.exists():
                self.local_json.unlink(missing_ok=True)  # unreadable: no running stack can be using it
            return
        pid = content.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and _process_alive(pid):
            log.warning("%s names a stack still running (pid %d); it is replaced only if this one starts",
                        self.local_json, pid)
            return
        self.local_json.unlink(missing_ok=True)

    # --- steps ---------------------------------------------------------------------------------------------

    def _check_settings(self) -> None:
        """The app's settings as the functions will read them: a bad seller IBAN, BIC or pay link stops the
        start here, naming the variable, rather than at the first reminder."""
        from chalicelib.config import Settings

        try:
            settings = Settings.from_env()
        except ValueError as error:
            raise LocalStackError(str(error)) from error
        if settings.no_way_to_pay:
            log.warning("!!! %s: the sweep will send no reminder", settings.no_way_to_pay)

    def _verify_mail_sender(self, clients: Any) -> None:
        ses = clients("ses")
        ses.verify_email_identity(EmailAddress=self.options.mail_from)
        domain = self.options.mail_from.rpartition("@")[2]
        if domain:
            ses.verify_domain_identity(Domain=domain)

    def _chalice_config(self) -> Any:
        from chalice.config import Config

        config_file = self.options.project_dir / ".chalice" / "config.json"
        on_disk = json.loads(config_file.read_text()) if config_file.is_file() else {"version": "2.0"}
        on_disk.setdefault("app_name", "dunwell")
        return Config(
            chalice_stage=self.options.stage,
            config_from_disk=on_disk,
            default_params={"project_dir": str(self.options.project_dir), "autogen_policy": False},
        )

    def _apply_environment(self, from_template: dict[str, str], from_chalice_config: dict[str, str]) -> None:
        """As in AWS: template Globals, then the Chalice stage's variables over them; then the local values."""
        os.environ.update(from_template)
        os.environ.update(from_chalice_config)
        for name, (variable, _) in webhook_secret_defaults().items():
            os.environ[variable] = self.options.webhook_secrets[name]
        os.environ.update(self.options.seller)
        os.environ.update(
            DUNWELL_STAGE=self.options.stage,
            DUNWELL_ALLOW_SIMULATED_CLOCK="true",
            DUNWELL_MAIL_FROM=self.options.mail_from,
        )
        # Before the app (and observability's log filter) is imported: masked here.
        log.info("app environment: %s",
                 mask_emails_in(", ".join(f"{k}={v}" for k, v in sorted(from_template.items()))))

    def _import_app(self) -> Any:
        project = str(self.options.project_dir)
        if project not in sys.path:
            sys.path.insert(0, project)
        for module_name in ("chalicelib.config", "chalicelib.bootstrap"):
            module = sys.modules.get(module_name)  # imported earlier in this process: drop cached settings
            if module is not None and hasattr(module, "reset"):
                module.reset()
        app = importlib.import_module("app").app
        from chalice.deploy.validate import validate_routes

        validate_routes(app.routes)
        return app

    def _issue_admin_key(self) -> str | None:
        try:
            from chalicelib import bootstrap

            bootstrap.bind_tables()
            issued = bootstrap.api_keys().issue(name="local-admin", role="admin", actor="system:local")
        except Exception:
            log.exception("could not issue the local admin API key: the API will answer 401 to everything")
            return None
        log.info("issued admin API key %s", issued.key_id)
        return str(issued.api_key)

    def _serve_api(self, app: Any, config: Any) -> str:
        from chalice.local import create_local_server

        from chalicelib.local.gateway import use_quiet_handler

        # Chalice's own local server: API Gateway emulation, one thread per connection.
        self._api = create_local_server(app, config, self.options.host, self.options.api_port)
        use_quiet_handler(self._api, app, config)
        # socketserver listens with a backlog of 5: a client opening 20 connections at once (a batch job, the
        # parallel write-off test) had the rest reset. Listening again on the bound socket raises the backlog.
        self._api.server.socket.listen(LISTEN_BACKLOG)
        host, port = self._api.server.server_address[:2]
        thread = threading.Thread(target=self._api.server.serve_forever, name="dunwell-api", daemon=True)
        thread.start()
        self._threads.append(thread)
        return f"http://{host}:{port}"

    def _publish_base_url(self, url: str) -> None:
        """Personal portal links (PUBLIC_BASE_URL) point at this stack's own API, known once it listens; the
        settings read before then are forgotten so every function builds its links under it."""
        from chalicelib import bootstrap

        os.environ["PUBLIC_BASE_URL"] = url
        bootstrap.reset()
        log.info("portal links live under %s", url)

    def _write_local_json(self) -> None:
        temporary = self.local_json.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.info, indent=2) + "\n", encoding="utf-8")
        temporary.chmod(0o600)  # it holds an admin key
        temporary.replace(self.local_json)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
