/* A C extension whose import races: its exec function starts two threads that count on
 * one shared counter with no lock, and waits for them. ThreadSanitizer reports it as the
 * module is imported, before any of its code is called: what `pybuild12 compat` on a
 * sanitizer build must name. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>

static long imports_counted;

static void *
count(void *unused)
{
    for (int i = 0; i < 10000; i++) {
        imports_counted++;
    }
    return NULL;
}

static int
exec_module(PyObject *module)
{
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&threads[i], NULL, count, NULL) != 0) {
            PyErr_SetString(PyExc_OSError, "cannot start a thread");
            return -1;
        }
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
    }
    return PyModule_AddIntConstant(module, "counted", imports_counted);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "racy_import", "A module whose import races.", 0, NULL, slots,
};

PyMODINIT_FUNC
PyInit_racy_import(void)
{
    return PyModuleDef_Init(&module);
}
