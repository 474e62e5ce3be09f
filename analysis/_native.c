/* Compiled forms of four loops a build runs for every post, each with a Python form that is the
 * reference (analysis/native.py says which, fences these and checks that they agree):
 *
 * gram_terms(folded) -> (texts, positions, starts, ends)
 *     GramTokenizer.analyse (analysis/tokenizers.py): the unit bigrams of folded text, and each
 *     Latin/number unit alone, with positions and character offsets. Units and runs as
 *     analysis/normalize.py's UNIT and _RUN define them.
 * word_terms(words, freq) -> (texts, positions, starts, ends)
 *     JiebaTokenizer.analyse (analysis/tokenizers.py) after the segmenter's cut: each word with a
 *     letter or digit at the next position, after the dictionary words (`freq`, a dict of word ->
 *     count) inside it, its 2-grams and, past 3 characters, 3-grams.
 * shingle_minima(text, shingle_chars, multipliers, offsets, mixer, bits) -> (distinct, minima) | None
 *     near_duplicates.signature's MinHash over the text's shingles: how many distinct shingles,
 *     and for each multiply-shift hash function the top `bits` bits of its least value (mixed
 *     once more), as bytes. None when a shingle does not fit the packed key used to tell
 *     shingles apart (a character beyond the BMP, or shingles longer than 4): the caller then
 *     takes the Python form.
 * group(numbers, texts, positions) -> (terms, freqs, positions, count)
 *     storage/writer.py's _FieldPostings.add_tokens: a document's tokens (str) grouped into
 *     postings, in term-number order (a term's positions ascending); `numbers` maps a term's
 *     UTF-8 to its number, and numbers a new one (its __missing__). Term numbers, frequencies
 *     and positions as packed native uint32; positions None without positions.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NATIVE_VERSION 2

/* ---- units (analysis/normalize.py: CJK, UNIT, _RUN) ---------------------------------------- */

static int is_cjk(Py_UCS4 c)
{
    return (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF);
}

static int is_digit(Py_UCS4 c) { return c >= '0' && c <= '9'; }
static int is_lower(Py_UCS4 c) { return c >= 'a' && c <= 'z'; }

/* The end of the unit starting at i, or i when none starts there. */
static Py_ssize_t unit_end(int kind, const void *data, Py_ssize_t length, Py_ssize_t i)
{
    Py_UCS4 c = PyUnicode_READ(kind, data, i);
    if (is_cjk(c) || c == '%')
        return i + 1;
    if (is_digit(c)) { /* [0-9]+(?:\.[0-9]+)* */
        Py_ssize_t j = i + 1;
        while (j < length && is_digit(PyUnicode_READ(kind, data, j)))
            j++;
        while (j + 1 < length && PyUnicode_READ(kind, data, j) == '.' && is_digit(PyUnicode_READ(kind, data, j + 1))) {
            j += 2;
            while (j < length && is_digit(PyUnicode_READ(kind, data, j)))
                j++;
        }
        return j;
    }
    if (is_lower(c)) {
        Py_ssize_t j = i + 1;
        while (j < length && is_lower(PyUnicode_READ(kind, data, j)))
            j++;
        return j;
    }
    return i;
}

/* A text's terms as four parallel lists (analysis/tokenizers.py's Terms). */
typedef struct {
    PyObject *texts, *positions, *starts, *ends;
} Terms;

static int terms_init(Terms *terms)
{
    terms->texts = PyList_New(0);
    terms->positions = PyList_New(0);
    terms->starts = PyList_New(0);
    terms->ends = PyList_New(0);
    return terms->texts && terms->positions && terms->starts && terms->ends ? 0 : -1;
}

static int append_long(PyObject *list, Py_ssize_t value)
{
    PyObject *number = PyLong_FromSsize_t(value);
    if (number == NULL)
        return -1;
    int failed = PyList_Append(list, number);
    Py_DECREF(number);
    return failed;
}

static int terms_append(Terms *terms, PyObject *text, Py_ssize_t position, Py_ssize_t start, Py_ssize_t end)
{
    if (PyList_Append(terms->texts, text) || append_long(terms->positions, position)
        || append_long(terms->starts, start) || append_long(terms->ends, end))
        return -1;
    return 0;
}

/* The lists as a 4-tuple, or NULL (failed: an error is set); the lists are released either way. */
static PyObject *terms_result(Terms *terms, int failed)
{
    PyObject *result = failed ? NULL : PyTuple_Pack(4, terms->texts, terms->positions, terms->starts, terms->ends);
    Py_XDECREF(terms->texts);
    Py_XDECREF(terms->positions);
    Py_XDECREF(terms->starts);
    Py_XDECREF(terms->ends);
    return result;
}

/* Appends folded[start:middle_end] + folded[middle_start:end] (a unit alone, or two adjacent:
 * middle_end == middle_start). */
static int append_units(Terms *terms, PyObject *folded, Py_ssize_t start, Py_ssize_t middle_end,
                        Py_ssize_t middle_start, Py_ssize_t end, Py_ssize_t position)
{
    PyObject *text;
    if (middle_end == middle_start)
        text = PyUnicode_Substring(folded, start, end);
    else {
        PyObject *first = PyUnicode_Substring(folded, start, middle_end);
        PyObject *second = first ? PyUnicode_Substring(folded, middle_start, end) : NULL;
        text = second ? PyUnicode_Concat(first, second) : NULL;
        Py_XDECREF(first);
        Py_XDECREF(second);
    }
    if (text == NULL)
        return -1;
    int failed = terms_append(terms, text, position, start, end);
    Py_DECREF(text);
    return failed;
}

static PyObject *gram_terms(PyObject *self, PyObject *folded)
{
    (void)self;
    if (!PyUnicode_Check(folded)) {
        PyErr_SetString(PyExc_TypeError, "gram_terms takes a str");
        return NULL;
    }
    int kind = PyUnicode_KIND(folded);
    const void *data = PyUnicode_DATA(folded);
    Py_ssize_t length = PyUnicode_GET_LENGTH(folded);
    Terms terms;
    Py_ssize_t *unit_starts = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(length + 1));
    Py_ssize_t *unit_ends = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(length + 1));
    int failed = terms_init(&terms) || !unit_starts || !unit_ends;
    if (failed && !PyErr_Occurred())
        PyErr_NoMemory();
    Py_ssize_t position = 0, i = 0;
    while (!failed && i < length) {
        Py_ssize_t end = unit_end(kind, data, length, i);
        if (end == i) {
            i++;
            continue;
        }
        /* a run: units with nothing but white space between them */
        Py_ssize_t count = 0;
        unit_starts[count] = i;
        unit_ends[count++] = end;
        for (;;) {
            Py_ssize_t next = unit_ends[count - 1];
            while (next < length && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, next)))
                next++;
            Py_ssize_t next_end = next < length ? unit_end(kind, data, length, next) : next;
            if (next_end == next)
                break;
            unit_starts[count] = next;
            unit_ends[count++] = next_end;
        }
        /* Latin/number units alone first, then the bigrams (GramTokenizer.analyse's order) */
        for (Py_ssize_t k = 0; k < count && !failed; k++) {
            if (PyUnicode_READ(kind, data, unit_starts[k]) < 128)
                failed = append_units(&terms, folded, unit_starts[k], unit_ends[k], unit_ends[k], unit_ends[k],
                                      position + k);
        }
        for (Py_ssize_t k = 0; k + 1 < count && !failed; k++)
            failed = append_units(&terms, folded, unit_starts[k], unit_ends[k], unit_starts[k + 1], unit_ends[k + 1],
                                  position + k);
        position += count + 1;
        i = unit_ends[count - 1];
    }
    PyMem_Free(unit_starts);
    PyMem_Free(unit_ends);
    return terms_result(&terms, failed);
}

/* ---- words (analysis/tokenizers.py: JiebaTokenizer.analyse) ------------------------------- */

static PyObject *word_terms(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *words, *freq;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &words, &PyDict_Type, &freq))
        return NULL;
    Terms terms;
    int failed = terms_init(&terms);
    Py_ssize_t start = 0, position = 0;
    for (Py_ssize_t w = 0; !failed && w < PyList_GET_SIZE(words); w++) {
        PyObject *word = PyList_GET_ITEM(words, w);
        if (!PyUnicode_Check(word)) {
            PyErr_SetString(PyExc_TypeError, "words must be a list of str");
            failed = 1;
            break;
        }
        int kind = PyUnicode_KIND(word);
        const void *data = PyUnicode_DATA(word);
        Py_ssize_t size = PyUnicode_GET_LENGTH(word);
        int has_word_char = 0;
        for (Py_ssize_t i = 0; i < size && !has_word_char; i++)
            has_word_char = Py_UNICODE_ISALNUM(PyUnicode_READ(kind, data, i));
        if (has_word_char) {
            for (Py_ssize_t n = 2; size > 2 && n <= (size > 3 ? 3 : 2) && !failed; n++) {
                for (Py_ssize_t i = 0; i + n <= size && !failed; i++) {
                    PyObject *inner = PyUnicode_Substring(word, i, i + n);
                    if (inner == NULL) {
                        failed = 1;
                        break;
                    }
                    PyObject *count = PyDict_GetItemWithError(freq, inner); /* borrowed */
                    int known = count != NULL ? PyObject_IsTrue(count) : (PyErr_Occurred() ? -1 : 0);
                    failed = known < 0 || (known == 1 && terms_append(&terms, inner, position, start + i, start + i + n));
                    Py_DECREF(inner);
                }
            }
            failed = failed || terms_append(&terms, word, position, start, start + size);
            position++;
        }
        start += size;
    }
    return terms_result(&terms, failed);
}

/* ---- MinHash (analysis/near_duplicates.py: signature) --------------------------------------- */

static uint32_t crc_table[256];

static void make_crc_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

/* zlib.crc32 of the UTF-8 of `count` BMP characters */
static uint32_t crc32_of_chars(const Py_UCS4 *chars, Py_ssize_t count)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (Py_ssize_t i = 0; i < count; i++) {
        unsigned char bytes[3];
        int size;
        Py_UCS4 c = chars[i];
        if (c < 0x80) {
            bytes[0] = (unsigned char)c;
            size = 1;
        } else if (c < 0x800) {
            bytes[0] = (unsigned char)(0xC0 | (c >> 6));
            bytes[1] = (unsigned char)(0x80 | (c & 0x3F));
            size = 2;
        } else {
            bytes[0] = (unsigned char)(0xE0 | (c >> 12));
            bytes[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            bytes[2] = (unsigned char)(0x80 | (c & 0x3F));
            size = 3;
        }
        for (int b = 0; b < size; b++)
            crc = crc_table[(crc ^ bytes[b]) & 0xFF] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static PyObject *shingle_minima(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *text;
    Py_ssize_t shingle_chars;
    Py_buffer multipliers, offsets;
    unsigned long long mixer;
    int bits;
    if (!PyArg_ParseTuple(args, "Uny*y*Ki", &text, &shingle_chars, &multipliers, &offsets, &mixer, &bits))
        return NULL;
    PyObject *result = NULL;
    uint64_t *keys = NULL, *minima = NULL;
    Py_ssize_t hashes = multipliers.len / 8;
    if (multipliers.len != offsets.len || multipliers.len % 8 || bits < 1 || bits > 8 || shingle_chars < 1) {
        PyErr_SetString(PyExc_ValueError, "shingle_minima: bad hash family");
        goto done;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text); /* a str is stored at the width of its widest character */
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t width = length <= shingle_chars ? length : shingle_chars;
    /* Not packable (a character beyond the BMP; four BMP characters fill the key): the Python
     * form tells such shingles apart. */
    if (kind == PyUnicode_4BYTE_KIND || width > 4) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    /* the shingles: every run of shingle_chars characters, or the whole text when not longer */
    Py_ssize_t shingles = length <= shingle_chars ? (length ? 1 : 0) : length - shingle_chars + 1;
    if (shingles == 0) {
        result = Py_BuildValue("(ny#)", (Py_ssize_t)0, "", (Py_ssize_t)0);
        goto done;
    }
    keys = PyMem_Malloc(sizeof(uint64_t) * (size_t)shingles);
    minima = PyMem_Malloc(sizeof(uint64_t) * (size_t)hashes);
    if (keys == NULL || minima == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t s = 0; s < shingles; s++) {
        uint64_t key = 0;
        for (Py_ssize_t k = 0; k < width; k++)
            key = key << 16 | PyUnicode_READ(kind, data, s + k);
        keys[s] = key; /* one width for every shingle: equal keys are equal shingles */
    }
    qsort(keys, (size_t)shingles, sizeof(uint64_t), compare_u64);
    const uint64_t *multiplier = multipliers.buf, *offset = offsets.buf;
    for (Py_ssize_t h = 0; h < hashes; h++)
        minima[h] = UINT64_MAX;
    Py_ssize_t distinct = 0;
    for (Py_ssize_t s = 0; s < shingles; s++) {
        if (s && keys[s] == keys[s - 1])
            continue;
        distinct++;
        Py_UCS4 shingle[4];
        for (Py_ssize_t k = 0; k < width; k++)
            shingle[k] = (Py_UCS4)(keys[s] >> (16 * (width - 1 - k)) & 0xFFFF);
        uint64_t hash = crc32_of_chars(shingle, width);
        for (Py_ssize_t h = 0; h < hashes; h++) {
            uint64_t mixed = hash * multiplier[h] + offset[h]; /* wrapping is the hash */
            if (mixed < minima[h])
                minima[h] = mixed;
        }
    }
    unsigned char *top = PyMem_Malloc((size_t)hashes);
    if (top == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t h = 0; h < hashes; h++)
        top[h] = (unsigned char)((minima[h] * (uint64_t)mixer) >> (64 - bits));
    result = Py_BuildValue("(ny#)", distinct, (const char *)top, hashes);
    PyMem_Free(top);
done:
    PyBuffer_Release(&multipliers);
    PyBuffer_Release(&offsets);
    PyMem_Free(keys);
    PyMem_Free(minima);
    return result;
}

/* ---- postings (storage/writer.py: _FieldPostings.add_tokens) -------------------------------- */

/* Insertion sort for the short lists most fields give, qsort beyond. */
static void sort_keys(uint64_t *keys, Py_ssize_t count)
{
    if (count > 32) {
        qsort(keys, (size_t)count, sizeof(uint64_t), compare_u64);
        return;
    }
    for (Py_ssize_t i = 1; i < count; i++) {
        uint64_t key = keys[i];
        Py_ssize_t j = i - 1;
        while (j >= 0 && keys[j] > key) {
            keys[j + 1] = keys[j];
            j--;
        }
        keys[j + 1] = key;
    }
}

/* The term number of `text` in `numbers` (a dict of UTF-8 bytes -> int whose __missing__ numbers a
 * new term, the reference's defaultdict: one numbering rule for every way a term is added); -1 on
 * error. */
static int64_t number_of(PyObject *numbers, PyObject *text)
{
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    if (utf8 == NULL)
        return -1;
    PyObject *key = PyBytes_FromStringAndSize(utf8, size);
    if (key == NULL)
        return -1;
    PyObject *found = PyDict_GetItemWithError(numbers, key); /* borrowed */
    long long value = -1;
    if (found != NULL)
        value = PyLong_AsLongLong(found);
    else if (!PyErr_Occurred()) {
        PyObject *added = PyObject_GetItem(numbers, key); /* the dict's __missing__ numbers it */
        if (added != NULL) {
            value = PyLong_AsLongLong(added);
            Py_DECREF(added);
        }
    }
    Py_DECREF(key);
    return value < 0 ? -1 : (int64_t)value;
}

static PyObject *group(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *numbers, *texts, *positions;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyDict_Type, &numbers, &PyList_Type, &texts, &positions))
        return NULL;
    int positional = positions != Py_None;
    Py_ssize_t count = PyList_GET_SIZE(texts);
    if (positional && (!PyList_Check(positions) || PyList_GET_SIZE(positions) != count)) {
        PyErr_SetString(PyExc_ValueError, "positions must be a list as long as texts, or None");
        return NULL;
    }
    size_t room = (size_t)(count ? count : 1);
    uint64_t *keys = PyMem_Malloc(sizeof(uint64_t) * room);
    uint32_t *out = PyMem_Malloc(sizeof(uint32_t) * room * 3);
    PyObject *result = NULL;
    if (keys == NULL || out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *text = PyList_GET_ITEM(texts, i);
        if (!PyUnicode_CheckExact(text)) {
            PyErr_SetString(PyExc_TypeError, "texts must be a list of str");
            goto done;
        }
        int64_t number = number_of(numbers, text);
        if (number < 0)
            goto done;
        if (number > (int64_t)UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "more terms than uint32 numbers");
            goto done;
        }
        unsigned long long position = 0;
        if (positional) {
            position = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(positions, i));
            if (position == (unsigned long long)-1 && PyErr_Occurred())
                goto done;
            if (position > UINT32_MAX) {
                PyErr_SetString(PyExc_OverflowError, "a position beyond uint32");
                goto done;
            }
        }
        keys[i] = (uint64_t)number << 32 | position;
    }
    sort_keys(keys, count);
    uint32_t *terms_out = out, *freqs_out = out + count, *positions_out = out + 2 * count;
    Py_ssize_t postings = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        uint32_t number = (uint32_t)(keys[i] >> 32);
        if (postings == 0 || terms_out[postings - 1] != number) {
            terms_out[postings] = number;
            freqs_out[postings++] = 0;
        }
        freqs_out[postings - 1]++;
        positions_out[i] = (uint32_t)keys[i];
    }
    PyObject *terms_bytes = PyBytes_FromStringAndSize((const char *)terms_out, postings * 4);
    PyObject *freqs_bytes = PyBytes_FromStringAndSize((const char *)freqs_out, postings * 4);
    PyObject *positions_bytes = positional ? PyBytes_FromStringAndSize((const char *)positions_out, count * 4)
                                           : Py_NewRef(Py_None);
    if (terms_bytes && freqs_bytes && positions_bytes)
        result = Py_BuildValue("(NNNn)", terms_bytes, freqs_bytes, positions_bytes, postings);
    else {
        Py_XDECREF(terms_bytes);
        Py_XDECREF(freqs_bytes);
        Py_XDECREF(positions_bytes);
    }
done:
    PyMem_Free(keys);
    PyMem_Free(out);
    return result;
}

/* ---- the module ------------------------------------------------------------------------------ */

static PyMethodDef methods[] = {
    {"gram_terms", gram_terms, METH_O, "GramTokenizer.analyse's terms of folded text (see the source's head)."},
    {"word_terms", word_terms, METH_VARARGS, "JiebaTokenizer.analyse's terms of a text's words."},
    {"shingle_minima", shingle_minima, METH_VARARGS, "A text's distinct shingles and MinHash minima, or None."},
    {"group", group, METH_VARARGS, "A document's tokens grouped into postings."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "Compiled forms of four loops of a build (analysis/native.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    make_crc_table();
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "VERSION", NATIVE_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
