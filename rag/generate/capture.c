/* The residual stream of chosen layers, kept while llama.cpp evaluates: an eval callback (cb_eval) that copies the
 * last row of each tensor named "l_out-<layer>" (the state at the last token of the batch) and lets every other
 * node pass untouched. In C rather than Python: a ctypes callback runs for every graph node and cost 7% of prompt
 * speed and 24% of generation speed (docs/decisions.md); this one is within noise of no callback.
 * Built at set-up against llama-cpp-python's own libggml-base (rag/generate/capture.py). One state per context,
 * passed as cb_eval_user_data, so two models in one process keep their own rows. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ggml_tensor;
extern const char * ggml_get_name(const struct ggml_tensor * tensor);
extern int64_t ggml_nelements(const struct ggml_tensor * tensor);
extern size_t ggml_nbytes(const struct ggml_tensor * tensor);
extern void ggml_backend_tensor_get(const struct ggml_tensor * tensor, void * data, size_t offset, size_t size);

#define MAX_LAYERS 16

typedef struct {
    int n_layers, n_embd, on;
    char names[MAX_LAYERS][24];
    int64_t writes[MAX_LAYERS]; /* rows copied per layer since the state was made: a stale row is detectable */
    float * rows;               /* n_layers x n_embd, the latest row of each layer */
} capture_state;

capture_state * capture_new(void) { return calloc(1, sizeof(capture_state)); }

/* Which layers to keep, and the model's width (known once it is loaded, after the context was made with this state).
 * Called between evaluations, never during one (the backend evaluates under one lock). */
int capture_configure(capture_state * s, int n_layers, const int * layers, int n_embd) {
    if (n_layers < 0 || n_layers > MAX_LAYERS || n_embd < 1) return 0;
    float * rows = n_layers ? calloc((size_t) n_layers * (size_t) n_embd, sizeof(float)) : NULL;
    if (n_layers && !rows) return 0;
    free(s->rows);
    s->rows = rows;
    s->n_layers = n_layers;
    s->n_embd = n_embd;
    for (int i = 0; i < n_layers; i++) {
        snprintf(s->names[i], sizeof s->names[i], "l_out-%d", layers[i]);
        s->writes[i] = 0;
    }
    return 1;
}

void capture_free(capture_state * s) {
    if (s) { free(s->rows); free(s); }
}

void capture_enable(capture_state * s, int on) { s->on = on; }

const float * capture_rows(const capture_state * s) { return s->rows; }

int64_t capture_writes(const capture_state * s, int layer_index) { return s->writes[layer_index]; }

/* ask == true: does the callback want to see this node (then the scheduler computes up to it and calls again with
 * ask == false); returning false from an observation would cancel the computation, so observations return true. */
bool capture_callback(struct ggml_tensor * t, bool ask, void * user_data) {
    capture_state * s = user_data;
    if (!s || !s->on || !s->rows) return !ask;
    const char * name = ggml_get_name(t);
    if (strncmp(name, "l_out-", 6) != 0) return !ask;
    for (int i = 0; i < s->n_layers; i++) {
        if (strcmp(name, s->names[i]) != 0) continue;
        if (ask) return true;
        int64_t n = ggml_nelements(t);
        if (n < s->n_embd || ggml_nbytes(t) != (size_t) n * sizeof(float)) return true; /* not f32 rows: leave it */
        ggml_backend_tensor_get(t, s->rows + (size_t) i * s->n_embd, (size_t) (n - s->n_embd) * sizeof(float),
                                (size_t) s->n_embd * sizeof(float));
        s->writes[i]++;
        return true;
    }
    return !ask;
}
