"""Scripts that run in every page (added to its head at launch): no words, only behaviour."""

# The elapsed clock of a training run moves on in the page, second by second, from the seconds the server last drew:
# the server pushes a page only what changed (a step, a phase), not one message per second per page.
CLOCK_SCRIPT = """<script>
(() => {
  const two = n => String(n).padStart(2, "0");
  const show = s => {
    const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    return h ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
  };
  setInterval(() => document.querySelectorAll(".ls-clock[data-elapsed]").forEach(el => {
    if (el.dataset.drawn !== el.dataset.elapsed) {
      el.dataset.drawn = el.dataset.elapsed;
      el.dataset.since = Date.now();
    }
    el.textContent = show(Math.floor(+el.dataset.elapsed + (Date.now() - +el.dataset.since) / 1000));
  }), 1000);
})();
</script>"""
