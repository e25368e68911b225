"""The dashboard: `build_app()` composes the tabs; `launch()` serves it with safe defaults."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from lora_studio import dataset_sources, jobs, processes, settings
from lora_studio.messages import DEFAULT_LANGUAGE, LANGUAGES, current_language, speaking, text
from lora_studio.ui import config_tab, engine_access, languages, run_state, server_guards
from lora_studio.ui.data_tab import build_data_tab
from lora_studio.ui.evaluate_tab import build_evaluate_tab
from lora_studio.ui.evaluate_view import CSS as EVALUATE_CSS
from lora_studio.ui.export_tab import build_export_tab
from lora_studio.ui.page_scripts import CLOCK_SCRIPT
from lora_studio.ui.playground_tab import PlaygroundTab, build_playground_tab, select_adapter
from lora_studio.ui.runs_tab import build_runs_tab
from lora_studio.ui.train_feed import STREAMS_MAX
from lora_studio.ui.train_tab import TrainTab, build_train_tab, current_run

log = logging.getLogger(__name__)

CSS = """
#data-status { padding: 0.5rem 0.75rem; border-radius: 8px; background: var(--block-background-fill); }
.ls-progress-label { margin-bottom: 0.35rem; }
.ls-progress-track { height: 12px; border-radius: 6px; background: var(--block-border-color); overflow: hidden; }
.ls-progress-fill { height: 100%; background: #4f7cff; transition: width 0.4s ease; }
.ls-busy { min-width: 12%; animation: ls-pulse 1.2s ease-in-out infinite; }
@keyframes ls-pulse { 0%, 100% { opacity: 0.35; } 50% { opacity: 1; } }
.nav-holder { display: none !important; }  /* Gradio's list of pages: the language switch replaces it */
#app-language { text-align: right; flex-grow: 0 !important; min-width: 10rem !important; }
.ls-language a, .ls-language strong { padding: 0 0.25rem; }
"""


def build_app(language: str | None = None) -> gr.Blocks:
    """Every page of the dashboard: the home `language` at / (default English), each other language at /<code>
    (ui/languages.py). Each page is the whole dashboard, and they share the browser's copy of the run config."""
    home = language or DEFAULT_LANGUAGE
    with gr.Blocks(title="LoRA Studio") as app, speaking(home):
        _build_page(app, home)
    app.pages[0] = ("", LANGUAGES[home], False)
    for code in LANGUAGES:
        if code != home:
            with app.route(LANGUAGES[code], languages.page_path(code, home), show_in_navbar=False), speaking(code):
                _build_page(app, home)
    languages.localize(app, home)
    return app


def _build_page(app: gr.Blocks, home: str) -> None:
    """The tabs of one page, in the language being spoken."""
    with gr.Row(equal_height=True):
        gr.Markdown(text("app.header"), elem_id="app-header")
        gr.HTML(languages.switch_html(current_language(), home), elem_id="app-language", padding=False)
    # The one run config of this page: every tab reads it, each writes only its own fields (ui/run_state.py).
    # The browser keeps a copy (written only from it) that brings it back after a reload or a server restart.
    run_config = gr.State(config_tab.initial_config().to_dict())
    kept = gr.BrowserState(None, storage_key=run_state.STORAGE_KEY, secret=run_state.secret())
    with gr.Tabs() as tabs:
        with gr.Tab(text("app.tab.data"), id="data"):
            data_tab = build_data_tab(run_config)
        with gr.Tab(text("app.tab.config"), id="config"):
            config = config_tab.build_config_tab(run_config)
        with gr.Tab(text("app.tab.train"), id="train") as train_tab:
            train = build_train_tab(run_config, train_tab)
        with gr.Tab(text("app.tab.export"), id="export") as export_tab:
            build_export_tab(export_tab)
        with gr.Tab(text("app.tab.playground"), id="playground") as playground_tab:
            playground = build_playground_tab(playground_tab)
        with gr.Tab(text("evaluate.tab"), id="evaluate") as evaluate_tab:
            build_evaluate_tab(evaluate_tab)
        with gr.Tab(text("app.tab.runs"), id="runs") as runs_tab:
            build_runs_tab(runs_tab)

    # The page's first draw: the kept run config and the Data tab drawn from it in one answer, so no later draw of
    # an older copy lands on what a person typed (the Data tab is usable once it is drawn). The Config tab follows
    # from the restored config: its pre-flight may first convert the embedded model (half a minute on a first
    # start), which the Data tab must not wait for.
    def first_draw(kept_value: Any, page_value: dict | None) -> dict[Any, Any]:
        try:
            restored = run_state.kept_config(kept_value)
            state = restored if restored is not None else page_value
            return {run_config: restored if restored is not None else gr.skip(), **data_tab.first_draw(state)}
        except Exception:  # a page left unusable would lose everything on it: it shows its own defaults instead
            log.exception("The page's first draw failed")
            return data_tab.usable()

    def config_first_draw(state: dict | None, calib: dict | None) -> dict[Any, Any]:
        return config.first_draw(state, calib)

    app.load(first_draw, [kept, run_config], [run_config, *data_tab.draw_outputs()]).then(
        config_first_draw, [run_config, config.components["calib"]], config.draw_outputs()
    )
    run_config.change(lambda state: state, [run_config], [kept], show_progress="hidden")
    train.attach(app)
    _wire_try_in_playground(train, playground, tabs)


def _wire_try_in_playground(train: TrainTab, playground: PlaygroundTab, tabs: gr.Tabs) -> None:
    """The Train tab's 'Try in Playground': select the watched run's adapter and open the Playground."""

    def go(request: gr.Request | None = None) -> dict:
        values = playground.out(select_adapter(current_run(request)))
        return {**values, tabs: gr.Tabs(selected="playground")}

    train.components["try"].click(go, None, [*playground.select_outputs(), tabs])


def launch(
    host: str | None = None,
    port: int | None = None,
    auth: list[tuple[str, str]] | None = None,
    language: str | None = None,
) -> None:
    """Serve the dashboard. `auth`: (user, password) logins; None reads LORA_STUDIO_AUTH (empty: no login).
    `language`: the page at / (None: English there, and each browser is sent to the page of its own language)."""
    import sys

    host = host or settings.server_host()
    auth = settings.server_auth() if auth is None else auth
    notice = settings.exposure_notice(host, len(auth))
    if notice:
        loud, words = notice
        log.log(logging.WARNING if loud else logging.INFO, "%s", words)
        if loud:  # also on stderr: the log may go to a file nobody reads
            sys.stderr.write(words + "\n")
    jobs.get_manager()  # recover first: runs whose worker died are marked, live ones re-attached
    # With LORA_STUDIO_SERVER_NICE, threads serving pages run from here on below the training workers' CPU
    # priority; the job thread, started above, keeps it and passes it on to the workers it starts.
    if processes.lower_server_priority(settings.server_niceness()):
        log.info("Web server CPU priority: nice +%d below its training workers", settings.server_niceness())
    engine_access.warm_up()
    # Gradio serves only its upload folder (where the Merge & Export tab prepares downloads) plus
    # allowed_paths; nothing of ours is allowed, and runs, uploads, models and HF's cache are blocked
    # even if LORA_STUDIO_HOME is placed inside Gradio's folder.
    upload_folder = gr.utils.get_upload_folder()
    server_guards.start_sweeper(upload_folder)  # what refused or old uploads left, here or by an earlier server
    dataset_sources.sweep_staging()
    # The request, not only each file, is held to the upload limit; failed logins slow that client down.
    middleware = [
        Middleware(server_guards.UploadBudget, limit_bytes=settings.max_upload_bytes()),
        Middleware(server_guards.LoginThrottle, first_delay_s=settings.login_delay_s()),
    ]
    # run_history=False: Gradio would otherwise keep every event's inputs in the browser's storage, the Hub
    # token typed into the Merge & Export tab included.
    # Each page watching the Train tab holds two of the queue's slots while its live streams run (ui/train_feed.py):
    # room for those and for Gradio's usual 40 other events at once.
    build_app(language).queue(default_concurrency_limit=4).launch(
        max_threads=STREAMS_MAX + 40,
        server_name=host,
        server_port=port or settings.server_port(),
        max_file_size=settings.max_upload_bytes(),
        auth=auth or None,
        allowed_paths=[],
        blocked_paths=settings.blocked_paths(upload_folder),
        ssr_mode=False,
        css=CSS + config_tab.CSS + EVALUATE_CSS,
        head=languages.head_script(language or DEFAULT_LANGUAGE, follow_browser=language is None) + CLOCK_SCRIPT,
        footer_links=[],
        run_history=False,
        app_kwargs={"middleware": middleware},
    )
