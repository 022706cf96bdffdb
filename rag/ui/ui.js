// Clicking a citation ([n] in an answer, or a source in the evidence panel) shows the panel of that answer, opens
// the cited document and scrolls its highlighted quote into view. Document-level delegation: the chat and the
// panel re-render on every update, so listeners on their elements would be lost.
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a.cite");
  const target = link && /#cite-(\d+)-(\w+)$/.exec(link.getAttribute("href") || "");
  if (!target) return;
  event.preventDefault();
  event.stopPropagation();
  const [, turn, cite] = target;
  const root = document.getElementById("evidence");
  const panel = root && root.querySelector(`.turn-panel[data-turn="${turn}"]`);
  if (!panel) return;
  root.querySelectorAll(".turn-panel").forEach((p) => { p.hidden = p !== panel; });
  const mark = panel.querySelector(`.doc-view mark[data-mark="${cite}"]`);
  panel.querySelectorAll(".doc-view").forEach((view) => { view.hidden = !(mark && view.contains(mark)); });
  root.querySelectorAll("mark.active").forEach((m) => m.classList.remove("active"));
  if (mark) {
    mark.classList.add("active");
    // centre the quote inside the document box, then bring the box itself into view with as little page
    // movement as possible (scrollIntoView on the mark would also scroll the chat off the screen)
    const box = mark.closest(".doc-text");
    box.scrollTop += mark.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 3;
    box.closest(".doc-view").scrollIntoView({ block: "nearest" });
  }
}, true);
