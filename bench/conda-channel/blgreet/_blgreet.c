/* The blgreet Python extension: calls libblgreet, which it finds through an RPATH holding
 * the prefix placeholder (so it loads only when the installer rewrote the placeholder). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include "blgreet.h"

static PyObject *py_prefix(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(blgreet_prefix());
}

static PyObject *py_message(PyObject *self, PyObject *unused) {
    const char *m = blgreet_message();
    if (!m) return PyErr_SetFromErrno(PyExc_OSError);
    return PyUnicode_FromString(m);
}

static PyMethodDef methods[] = {
    {"prefix", py_prefix, METH_NOARGS, "The prefix libblgreet was installed into."},
    {"message", py_message, METH_NOARGS, "The message in PREFIX/share/blgreet/message.txt."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_blgreet", NULL, -1, methods};

PyMODINIT_FUNC PyInit__blgreet(void) { return PyModule_Create(&module); }
