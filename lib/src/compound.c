/* compound.c — which spectra are of the same compound: InChIKey blocks and deuterated standards. */
#include <ctype.h>
#include <string.h>

#include "sm_internal.h"

/* "d5", "D8" after '-', ' ', '(' or ',' and before a non-alphanumeric character or
 * the end: the way labelled standards are named in SWGDRUG and MassBank. */
static bool name_says_deuterated(const char *name)
{
    for (const char *p = name; *p; p++) {
        if ((*p != 'd' && *p != 'D') || p == name)
            continue;
        char before = p[-1];
        if (before != '-' && before != ' ' && before != '(' && before != ',')
            continue;
        const char *q = p + 1;
        if (!isdigit((unsigned char)*q))
            continue;
        while (isdigit((unsigned char)*q))
            q++;
        if (*q == '\0' || !isalnum((unsigned char)*q))
            return true;
    }
    return false;
}

/* The element symbol D (deuterium) in a Hill formula: a capital D not followed by
 * a lower-case letter (which would make it Db, Dy, Ds). */
static bool formula_has_deuterium(const char *f)
{
    for (const char *p = f; *p; p++)
        if (*p == 'D' && !islower((unsigned char)p[1]))
            return true;
    return false;
}

bool sm_is_deuterated(const char *name, const char *formula)
{
    return (name && name_says_deuterated(name)) ||
           (formula && formula_has_deuterium(formula));
}

void sm_compound_key(const char *inchikey, const char *name, const char *formula, char *out,
                     size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    size_t n = 0;
    if (inchikey && *inchikey) {
        const char *dash = strchr(inchikey, '-');
        size_t len = dash ? (size_t)(dash - inchikey) : strlen(inchikey);
        for (size_t i = 0; i < len && n + 1 < cap; i++)
            out[n++] = (char)toupper((unsigned char)inchikey[i]);
        out[n] = '\0';
        if (sm_is_deuterated(name, formula) && n + 3 <= cap) {
            out[n++] = '-';
            out[n++] = 'D';
            out[n] = '\0';
        }
        return;
    }
    if (name) {
        for (size_t i = 0; name[i] && n + 1 < cap; i++)
            out[n++] = (char)tolower((unsigned char)name[i]);
        out[n] = '\0';
    }
}
