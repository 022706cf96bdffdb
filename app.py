"""The chat window: `python app.py` serves it on RAG_HOST:RAG_PORT (127.0.0.1:7860); build_demo() wires it.

Example: demo = build_demo(Engine(pipeline, llm), settings); launch(demo, settings, prevent_thread_lock=True)
         Client("http://127.0.0.1:7860").predict("Why was the February trip called off?", api_name="/chat")[-1]
           -> {"answer": "... weather balloon ... [1].", "refused": false, "citations": [...], ...}
Only layout and event wiring live here; answering, rendering, uploads and feedback are in rag/.
"""


import os
import sys
from html import escape
from pathlib import Path
from types import SimpleNamespace

from rag.answer.engine import Engine
from rag.answer.result import EMPTY_QUESTION
from rag.config import BUNDLED_MODELS, Settings, load_settings
from rag.errors import BadInputError, RagError
from rag.read.readers import READERS
from rag.ui.conversation import Conversation
from rag.ui.draft_run import COLUMNS, REPORT_COLUMNS, run_kept
from rag.ui.drafts import MOST, Drafts
from rag.ui.feedback import append_feedback
from rag.ui.render import EMPTY_PANEL, documents_table
from rag.ui.uploads import remove_document, save_upload
from rag.ui.warm import WarmEngines

ASSETS = Path(__file__).resolve().parent / "rag" / "ui"
EXAMPLES = ["Why was the February trip called off?", "Who did Blinken meet in Beijing?",
            "In which city did Wang Yi and Jake Sullivan hold talks in May 2023?"]
# Gradio runs this many chat events at once: they wait for an answer slot (settings.answer_slots, rag/ui/slots.py)
# inside the chat, where each shows its place and an estimate; more wait in Gradio's own queue.
QUESTIONS_IN_CHAT = 32


def build_demo(engine: Engine | WarmEngines, settings: Settings):
    """The Gradio Blocks app around a ready Engine, or WarmEngines that load models in the background."""
    import gradio as gr

    engines = engine if isinstance(engine, WarmEngines) else WarmEngines.around(engine)
    with gr.Blocks(title="Ask your documents", fill_height=True, analytics_enabled=False) as demo:
        ui = _layout(gr, settings)
        _wire(gr, demo, ui, engines, settings)
    demo.queue(default_concurrency_limit=1, max_size=64)
    return demo


def _layout(gr, settings: Settings) -> SimpleNamespace:
    ui = SimpleNamespace(conversation=gr.State(Conversation()))
    with gr.Sidebar(label="Settings and documents", width=360):
        ui.status = gr.HTML(_status_html("Starting…"), elem_id="status")
        ui.timer = gr.Timer(1.0)
        choices = list(dict.fromkeys([settings.model, *BUNDLED_MODELS]))
        ui.model = gr.Radio(choices, value=settings.model, label="Model",
                            info="default: 1.5B, better answers; fast: 0.5B, quicker")
        ui.evidence_k = gr.Slider(1, 12, value=settings.evidence_k, step=1, label="Evidence passages")
        ui.show_evidence = gr.Checkbox(True, label="Show the evidence panel")
        gr.Markdown("### Documents")
        ui.files = gr.File(file_count="multiple", file_types=sorted(READERS), label="Upload documents")
        ui.index_log = gr.Textbox(label="Indexing", lines=2, max_lines=6, interactive=False, elem_id="index-log")
        ui.documents = gr.HTML(documents_table([]), label="documents")
        with gr.Row():
            ui.remove_choice = gr.Dropdown([], label="Remove a document", scale=3, allow_custom_value=True)
            ui.remove = gr.Button("Remove", variant="stop", scale=1, min_width=80)
    with gr.Tab("Chat"):
        _chat_layout(gr, ui)
    with gr.Tab("Test my documents"):
        _drafts_layout(gr, ui)
    return ui


def _chat_layout(gr, ui: SimpleNamespace) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            ui.chatbot = gr.Chatbot(elem_id="chat", label="Chat", render_markdown=False, sanitize_html=True,
                                    height="64vh", buttons=["copy"], feedback_options=("Like", "Dislike"),
                                    placeholder="Ask a question about your documents.")
            with gr.Row():
                ui.question = gr.Textbox(placeholder="Ask about your documents…", label="question", show_label=False,
                                         scale=6, elem_id="question", max_length=2000)
                ui.send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="send")
                ui.new_chat = gr.Button("New chat", scale=1, min_width=80, elem_id="new-chat")
            gr.Examples(EXAMPLES, inputs=ui.question, label="Examples")
        with gr.Column(scale=4) as ui.evidence_column:
            gr.Markdown("### Evidence")
            ui.evidence = gr.HTML(EMPTY_PANEL, label="evidence", elem_id="evidence", js_on_load=None)
            ui.record = gr.JSON(label="record", visible=False)


def _drafts_layout(gr, ui: SimpleNamespace) -> None:
    gr.Markdown("Draft test questions from your documents with the model chosen in the sidebar, check and edit them, "
                "then see how the chat answers them. Drafting and chat questions take turns on the model.")
    with gr.Row(equal_height=True):
        ui.draft_n = gr.Number(20, precision=0, label=f"Questions to draft (1-{MOST})", scale=2)
        ui.draft = gr.Button("Draft questions", variant="primary", scale=1)
        ui.draft_stop = gr.Button("Stop", variant="stop", scale=1)
    ui.draft_status = gr.Textbox(label="Drafting", interactive=False, elem_id="draft-status")
    ui.draft_timer = gr.Timer(1.0, active=False)
    ui.drafts = gr.Dataframe(headers=COLUMNS, datatype=["bool", *["str"] * (len(COLUMNS) - 1)], type="array",
                             interactive=True, static_columns=[3, 4, 5, 6], wrap=True, elem_id="drafts",
                             label="Drafted questions: untick keep to leave one out; edit a question or an answer "
                                   "(alternatives: a | b; empty: not in the documents)")
    ui.draft_record = gr.JSON(label="draft record", visible=False)
    ui.run_drafts = gr.Button("Run the kept questions", variant="primary")
    ui.run_summary = gr.Textbox(label="Report", lines=2, interactive=False, elem_id="run-summary")
    with gr.Row(equal_height=False):
        ui.run_rows = gr.Dataframe(headers=REPORT_COLUMNS, type="array", interactive=False, wrap=True, scale=3,
                                   label="Each question")
        ui.run_plot = gr.Image(label="Accuracy by question type", interactive=False, scale=2)
    ui.run_record = gr.JSON(label="run record", visible=False)


def _wire(gr, demo, ui: SimpleNamespace, engines: WarmEngines, settings: Settings) -> None:
    pipeline, seeds = engines.pipeline, Path(settings.seeds_dir)
    tracked = gr.Progress(track_tqdm=True)  # indexing reports through a tqdm bar; the window shows it

    def chat(question: str, conversation: Conversation, model: str, evidence_k: float):
        if not question.strip():  # a stray Enter on an empty box: a toast says so, the chat gets no turn
            gr.Warning(EMPTY_QUESTION)
            yield conversation.messages(), conversation.panels(), "", conversation, {"question": question,
                                                                                     "error": EMPTY_QUESTION}
            return
        for _ in conversation.ask(engines, question, model, int(evidence_k)):
            yield conversation.messages(), conversation.panels(), "", conversation, conversation.record()

    def new_chat():
        return [], EMPTY_PANEL, "", Conversation(), {}

    def rate(conversation: Conversation, like: gr.LikeData):
        turn = conversation.turn_of_message(like.index if isinstance(like.index, int) else like.index[0])
        if turn is not None:
            rating = {True: "up", False: "down"}.get(like.liked, str(like.liked))
            append_feedback(Path(settings.data_dir), turn.question, turn.answer, rating, shown=turn.error)
            gr.Info("Thanks: your rating was saved.")

    def indexed() -> tuple[list[tuple[str, str, int]], str]:
        """The indexed documents and a line saying how many, or none and why the store cannot be read."""
        try:
            rows = sorted((r.source, r.kind, r.chunks) for r in pipeline.store.manifest().values())
        except RagError as exc:
            return [], f"Index unavailable: {exc}"
        return rows, f"{len(rows)} documents indexed"

    def documents(rows: list | None = None):
        rows = indexed()[0] if rows is None else rows
        return documents_table(rows), gr.Dropdown(choices=[row[0] for row in rows], value=None)

    def reindex(log: list[str], progress) -> None:
        progress(0, desc="Indexing")
        try:
            with engines.busy:
                log.append(pipeline.index(progress=True).describe())
        except RagError as exc:
            log.append(f"indexing failed: {exc}")

    def upload(paths: list[str] | None, progress=tracked):
        log: list[str] = []
        saved = False
        for path in map(Path, paths or []):
            try:
                result = save_upload(path, path.name, seeds, settings.upload_max_mb, set(pipeline.store.manifest()))
                log.append(result.message)
                saved = saved or result.new
            except RagError as exc:
                log.append(f"rejected {exc}")
        if saved:
            reindex(log, progress)
        return *documents(), "\n".join(log), None

    def remove(source: str | None, progress=tracked):
        log: list[str] = []
        try:
            remove_document(source or "", seeds, set(pipeline.store.manifest()))
            log.append(f"removed {source}")
            reindex(log, progress)
        except BadInputError as exc:
            log.append(str(exc))
        return *documents(), "\n".join(log)

    def status(model: str):
        """Polled every second while something loads; the document list is refreshed with it (start-up index)."""
        rows, store_line = indexed()
        return _status_html(f"{engines.status(model)} · {store_line}"), gr.Timer(active=engines.loading()), *documents(rows)

    def switch_model(model: str):
        engines.start(model)
        return status(model)

    chat_outputs = [ui.chatbot, ui.evidence, ui.question, ui.conversation, ui.record]
    gr.on([ui.question.submit, ui.send.click], chat, [ui.question, ui.conversation, ui.model, ui.evidence_k],
          chat_outputs, api_name="chat", concurrency_id="chat", concurrency_limit=QUESTIONS_IN_CHAT)
    ui.new_chat.click(new_chat, None, chat_outputs, api_name="new_chat", queue=False)
    ui.chatbot.clear(new_chat, None, chat_outputs, api_visibility="private", queue=False)
    ui.chatbot.like(rate, ui.conversation, None, api_visibility="private", queue=False)
    doc_outputs = [ui.documents, ui.remove_choice, ui.index_log]
    # uploads and removals take turns; their indexing waits for the answers running (engines.busy)
    ui.files.upload(upload, ui.files, [*doc_outputs, ui.files], api_name="upload", concurrency_id="index")
    ui.remove.click(remove, ui.remove_choice, doc_outputs, api_name="remove", concurrency_id="index")
    status_outputs = [ui.status, ui.timer, ui.documents, ui.remove_choice]
    quiet = dict(api_visibility="private", queue=False, show_progress="hidden")
    ui.timer.tick(status, ui.model, status_outputs, **quiet)
    ui.model.change(switch_model, ui.model, status_outputs, **quiet)
    ui.show_evidence.change(lambda show: gr.Column(visible=show), ui.show_evidence, ui.evidence_column,
                            api_visibility="private", queue=False)
    demo.load(documents, None, [ui.documents, ui.remove_choice], api_visibility="private", queue=False)
    _wire_drafts(gr, demo, ui, engines, Drafts(engines, Path(settings.data_dir) / "drafts"))


def _wire_drafts(gr, demo, ui: SimpleNamespace, engines: WarmEngines, drafts: Drafts) -> None:
    def draft(n: float | None, model: str):
        line, started = drafts.start(n, model)
        return line, gr.Timer(active=started)

    def draft_status():
        line, rows, record = drafts.progress()
        return line, rows, record, gr.Timer(active=record["running"])

    def run(rows: list[list], model: str):
        for view in run_kept(engines, model, rows, drafts.stem()):
            yield view.summary, view.rows, view.plot, view.record

    ui.draft.click(draft, [ui.draft_n, ui.model], [ui.draft_status, ui.draft_timer], api_name="draft", queue=False)
    ui.draft_stop.click(drafts.stop, None, ui.draft_status, api_name="stop_drafts", queue=False)
    draft_outputs = [ui.draft_status, ui.drafts, ui.draft_record, ui.draft_timer]
    ui.draft_timer.tick(draft_status, None, draft_outputs, api_name="draft_status", queue=False, show_progress="hidden")
    demo.load(draft_status, None, draft_outputs, api_visibility="private", queue=False)  # a reloaded page follows along
    ui.run_drafts.click(run, [ui.drafts, ui.model], [ui.run_summary, ui.run_rows, ui.run_plot, ui.run_record],
                        api_name="run_drafts", concurrency_id="run_drafts")


def _status_html(text: str) -> str:
    return f"<span>{escape(text)}</span>"


def launch(demo, settings: Settings, **extra):
    """Serve the app with the safe defaults: settings.host only, no share link, optional login."""
    import gradio as gr

    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    options = dict(server_name=settings.host, server_port=settings.port, share=False, auth=auth,
                   max_file_size=f"{settings.upload_max_mb}mb", ssr_mode=False, mcp_server=False, pwa=False,
                   enable_monitoring=False, footer_links=["api"], theme=gr.themes.Soft(),
                   css=(ASSETS / "ui.css").read_text(), head=f"<script>{(ASSETS / 'ui.js').read_text()}</script>")
    return demo.launch(**{**options, **extra})


def main() -> int:
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no calls home at start
    try:
        settings = load_settings()
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from rag.pipeline import Pipeline

    engines = WarmEngines(Pipeline(settings))
    demo = build_demo(engines, settings)
    launch(demo, settings, prevent_thread_lock=True)
    engines.start(settings.model, index_first=True)  # after the window is up: it shows the progress
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
