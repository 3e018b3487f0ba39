/* A C extension with the bugs sanitizer builds are for: `bump` races on a shared counter
 * (an unsynchronized read-modify-write from every thread that calls it), `bump_atomic`
 * is the same function made atomic, and `use_after_free` reads a heap block it freed.
 * It declares that it needs no GIL, so on a free-threaded build its callers run it in
 * parallel. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>

static long counter;
static long atomic_counter;

static PyObject *
bump(PyObject *module, PyObject *unused)
{
    for (int i = 0; i < 10000; i++) {
        counter++;
    }
    return PyLong_FromLong(counter);
}

static PyObject *
bump_atomic(PyObject *module, PyObject *unused)
{
    long value = 0;
    for (int i = 0; i < 10000; i++) {
        value = __atomic_add_fetch(&atomic_counter, 1, __ATOMIC_RELAXED);
    }
    return PyLong_FromLong(value);
}

static PyObject *
use_after_free(PyObject *module, PyObject *unused)
{
    volatile int *block = malloc(16 * sizeof(int));
    if (block == NULL) {
        return PyErr_NoMemory();
    }
    block[3] = 42;
    free((void *)block);
    return PyLong_FromLong(block[3]);
}

static PyMethodDef methods[] = {
    {"bump", bump, METH_NOARGS, "Add 10000 to a shared counter, racing with other threads."},
    {"bump_atomic", bump_atomic, METH_NOARGS, "Add 10000 to a shared counter atomically."},
    {"use_after_free", use_after_free, METH_NOARGS, "Read a heap block after freeing it."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "racy", "Bugs for the sanitizers to find.", 0, methods, slots,
};

PyMODINIT_FUNC
PyInit_racy(void)
{
    return PyModuleDef_Init(&module);
}
