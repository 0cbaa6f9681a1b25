/* error.c — status names and the error struct filler used by every module. */
#include <stdio.h>
#include <string.h>

#include "sm_internal.h"

const char *sm_status_str(sm_status s)
{
    switch (s) {
    case SM_OK: return "ok";
    case SM_END: return "end of input";
    case SM_ERR_NOMEM: return "out of memory";
    case SM_ERR_IO: return "input/output error";
    case SM_ERR_PARSE: return "malformed input";
    case SM_ERR_ARG: return "invalid argument";
    case SM_ERR_FORMAT: return "unsupported library format";
    case SM_ERR_CHECKSUM: return "library checksum mismatch";
    case SM_ERR_HDF5: return "HDF5 error";
    case SM_ERR_LIMIT: return "limit exceeded";
    case SM_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

sm_status sm_seterr_(sm_error *err, sm_status st, const char *file, unsigned long line,
                     const char *fmt, ...)
{
    if (err == NULL)
        return st;
    err->status = st;
    err->line = line;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return st;
}
