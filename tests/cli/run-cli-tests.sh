#!/bin/sh
# run-cli-tests.sh — CLI cases: a command, its exit status, its stdout against a golden file, what its stderr says.
# usage: run-cli-tests.sh SPECMATCH SPECTRA_DIR CASES_DIR   (SPECMATCH_LIBRARY set by meson)
# Set UPDATE_GOLDEN=1 to rewrite the golden files from the current output.
set -u
SM=$1
SPECTRA=$2
DIR=$3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0

# check NAME EXIT STDERR_REGEX [STDOUT_REGEX] -- command...
# The command runs in $PWD; stdout is compared with golden/NAME.out when that exists.
check() {
    name=$1 want=$2 errpat=$3
    shift 3
    outpat=
    if [ "$1" != "--" ]; then outpat=$1; shift; fi
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
    rc=$?
    ok=1
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL $name: exit status $rc, expected $want"; ok=0
    fi
    golden="$DIR/golden/$name.out"
    if [ "${UPDATE_GOLDEN:-0}" = 1 ] && [ -f "$golden" ]; then cp "$TMP/$name.out" "$golden"; fi
    if [ -f "$golden" ] && ! diff -u "$golden" "$TMP/$name.out" >"$TMP/$name.diff"; then
        echo "FAIL $name: stdout differs from $golden"; cat "$TMP/$name.diff"; ok=0
    fi
    if [ -n "$errpat" ] && ! grep -Eq -- "$errpat" "$TMP/$name.err"; then
        echo "FAIL $name: stderr lacks /$errpat/:"; cat "$TMP/$name.err"; ok=0
    fi
    if [ -n "$outpat" ] && ! grep -Eq -- "$outpat" "$TMP/$name.out"; then
        echo "FAIL $name: stdout lacks /$outpat/:"; head -20 "$TMP/$name.out"; ok=0
    fi
    if [ $ok = 1 ]; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); fi
}

# Same, with standard input from a file.
check_stdin() {
    input=$1
    shift
    name=$1 want=$2
    shift 2
    "$@" <"$input" >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    ok=1
    [ "$rc" -eq "$want" ] || { echo "FAIL $name: exit status $rc, expected $want"; ok=0; }
    golden="$DIR/golden/$name.out"
    if [ "${UPDATE_GOLDEN:-0}" = 1 ] && [ -f "$golden" ]; then cp "$TMP/$name.out" "$golden"; fi
    if [ -f "$golden" ] && ! diff -u "$golden" "$TMP/$name.out"; then
        echo "FAIL $name: stdout differs from $golden"; ok=0
    fi
    if [ $ok = 1 ]; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); fi
}

cd "$SPECTRA" || exit 1
S=samples/fentanyl-replicate.msp

# The technician's run: default library, ranked table, Fentanyl first.
check sample_table 0 "1 spectrum read, 1 searched, 0 rejected" -- "$SM" "$S"
check sample_search_table 0 "" -- "$SM" search --top 3 "$S"
check sample_jsonl 0 "" -- "$SM" search --format jsonl --top 5 "$S"
check sample_csv 0 "" -- "$SM" search --format csv --top 3 "$S"
check sample_tsv 0 "" -- "$SM" search --format tsv --top 3 "$S"
check_stdin "$S" stdin_jsonl 0 "$SM" search -q --format jsonl --top 2 -
check explicit_library 0 "" '"rank":1,"name":"Fentanyl"' -- \
    "$SM" search --library "$SPECMATCH_LIBRARY" --format jsonl --top 1 "$S"
check min_mf 0 "" -- "$SM" search --min-mf 885 "$S"
check fail_no_match 1 "" -- "$SM" search --min-mf 990 --fail-no-match "$S"
check fail_no_match_ok 0 "" -- "$SM" search --min-mf 900 --fail-no-match --top 1 "$S"

# Verdicts. A made-up fluoro analogue of the sample (its ions from m/z 150 up moved by
# +18, as a fluoro substituent on the part of fentanyl those ions carry): no library
# spectrum matches it well, the hybrid search finds fentanyl at delta M +18.
awk '/^[Nn]um [Pp]eaks/ { inpk = 1; next }
     !inpk { next }
     { for (i = 1; i + 1 <= NF; i += 2) { m = $i + 0; v = $(i + 1); gsub(/;/, "", v);
         if (m >= 150) m += 18; if (!(m in a) || a[m] < v + 0) a[m] = v + 0 } }
     END { for (m in a) print m, a[m] }' "$SPECTRA/$S" | sort -n >"$TMP/peaks.txt"
{
    echo "Name: made-up fluoro fentanyl"
    echo "Num Peaks: $(wc -l <"$TMP/peaks.txt")"
    cat "$TMP/peaks.txt"
} >"$TMP/madeup.msp"
cd "$TMP" || exit 1
check analogue_table 0 "" "Verdict: SUSPECTED ANALOGUE" -- "$SM" search --top 3 madeup.msp
check analogue_jsonl 0 "" \
    '"status":"analogue".*"closest":\[\{"name":"Fentanyl".*"delta_m":18,"fentanyl_class":true,"substitutions":\["F for H' -- \
    "$SM" search --format jsonl --top 1 madeup.msp
check analogue_given_mw 0 "" '"query_mw":354,"mw_source":"given"' -- \
    "$SM" search --format jsonl --top 1 --mw 354 madeup.msp
check analogues_forced 0 "" "Analogue analysis: " -- "$SM" search --analogues --top 3 "$SPECTRA/$S"
check bad_mw 2 "--mw expects" -- "$SM" search --mw 0 "$SPECTRA/$S"
# A ring-substituted fentanyl analogue (SWGDRUG's p-fluorofentanyl spectrum, which the
# library holds): named at the isomer level, the kind of isomer said.
awk 'BEGIN { RS = ""; ORS = "\n\n" } /^Name: p-Fluorofentanyl\n/ { print }' \
    "$SPECTRA/swgdrug-3.4.msp" >"$TMP/pfluoro.msp"
check unresolved_isomers_table 0 "" \
    "Verdict: ISOMERS: p-Fluorofentanyl \\(MF 999\\) or an isomer of it" -- \
    "$SM" search --top 3 pfluoro.msp
check unresolved_isomers_jsonl 0 "" \
    '"status":"isomers","best":"p-Fluorofentanyl".*"unresolved_isomers":"ring-position isomers' -- \
    "$SM" search --format jsonl --top 3 pfluoro.msp
# A compound not in the library (the first MassBank negative): no match, the reason said.
awk 'BEGIN { RS = ""; ORS = "\n\n" } NR == 1 { print; exit }' \
    "$SPECTRA/massbank-ei-not-in-library.msp" >"$TMP/negative.msp"
check no_match_verdict 0 "" '"type":"verdict".*"status":"no_match".*"reason":"no hit reaches' -- \
    "$SM" search --format jsonl --top 1 negative.msp
# Thiofentanyl left out of the library: its identification as furanylethyl fentanyl (MF
# 870) is set aside, since shifted relatives explain it clearly better (fentanyl is 6 u
# lighter: benzene for thiophene); the verdict is analogue and the reason says why.
CONTROLS=$(cd "$(dirname "$0")/../../spectra-library" && pwd)/controls.tsv
awk 'BEGIN { RS = ""; ORS = "\n\n" } /^Name: Thiofentanyl\n/ { print > "thio.msp"; next }
     { print > "nothio.msp" }' "$SPECTRA/swgdrug-3.4.msp"
check set_aside_build 0 "wrote nothio.h5: 2987 spectra" -- \
    "$SM" library build -o nothio.h5 --controls "$CONTROLS" nothio.msp
check set_aside_table 0 "" "best identity hit set aside: Furanylethyl fentanyl \\(MF 870" -- \
    "$SM" search --library nothio.h5 --top 3 thio.msp
check set_aside_report 0 "" -- sh -c "'$SM' report --library nothio.h5 --date 2026-01-01 -o thio.html thio.msp &&
    grep -q 'Best identity hit set aside: Furanylethyl fentanyl (MF 870)' thio.html"
check set_aside_jsonl 0 "" \
    '"type":"verdict".*"status":"analogue","best":"Furanylethyl fentanyl".*"reason":"a fentanyl-class relative with a mass shift.*"shifted_better":true' -- \
    "$SM" search --library nothio.h5 --format jsonl --top 3 thio.msp
cd "$SPECTRA" || exit 1

# eval: the method validator's numbers, and that they are the ones search gives.
check eval_massbank 0 "" "top-1 274 \\(84\\.0%\\), top-5 281" -- \
    "$SM" eval --queries massbank-ei-in-library.msp
check eval_replicates_json 0 "" \
    '"set":"replicates".*"top1":206.*"in_library":\{"identified_right":160,"identified_wrong":1,"isomers_right":44,"isomers_wrong":4,"analogue":0,"no_match":47\}' -- \
    "$SM" eval --replicates --format json
check eval_entropy 0 "" "top-1 262 \\(80\\.4%\\)" -- \
    "$SM" eval --score entropy --queries massbank-ei-in-library.msp
check eval_no_input 2 "nothing to evaluate" -- "$SM" eval
check eval_empty_file 3 "empty.msp: no spectrum found" -- sh -c ": >'$TMP/empty.msp' &&
    '$SM' eval --queries '$TMP/empty.msp'"
check eval_missing_file 4 "nothing.msp: cannot open" -- "$SM" eval --queries nothing.msp
check eval_bad_records 3 "bad.msp:2: 'Num Peaks: 3' but 2 peaks were read" \
    "1 query .*, 2 spectra not read" -- sh -c "{ printf 'Name: Broken count\\nNum Peaks: 3\\n41 100; 42 50;\\n\\n'; cat '$S';
    printf '\\nName: neg\\nNum Peaks: 1\\n42 -7\\n'; } >'$TMP/bad.msp' && cd '$TMP' && '$SM' eval --queries bad.msp"
check eval_bad_score 2 "--score expects" -- "$SM" eval --score dot --replicates
check eval_plots 0 "" -- "$SM" eval -q --replicates --plots "$TMP/figs"
check eval_plots_svg 0 "" "^figures ok" -- python3 -c '
import sys, xml.etree.ElementTree as ET
d = sys.argv[1]
want = {"scores": ["series-right", "series-wrong", "legend"],
        "rates": ["series-curve", "legend"],
        "calibration": ["series-calibration", "diagonal", "legend"]}
for what, ids in want.items():
    root = ET.parse("%s/replicates-identity-%s.svg" % (d, what)).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
    found = {e.get("id") for e in root.iter()}
    missing = [i for i in ids + ["xlabel", "ylabel"] if i not in found]
    assert not missing, (what, missing)
    texts = " ".join(e.text or "" for e in root.iter() if e.tag.endswith("text"))
    assert "replicates" in texts, what
print("figures ok")
' "$TMP/figs"
# Same queries through search (JSON Lines) and eval (JSON): the verdict counts agree.
head -c 60000 massbank-ei-in-library.msp | awk 'BEGIN { RS = ""; ORS = "\n\n" } { r[NR] = $0 }
    END { for (i = 1; i < NR; i++) print r[i] }' >"$TMP/mb40.msp"
"$SM" search -q --format jsonl "$TMP/mb40.msp" >"$TMP/mb40.jsonl"
"$SM" eval -q --format json --queries "$TMP/mb40.msp" >"$TMP/mb40.json"
check eval_matches_search 0 "" "^agree" -- python3 -c '
import json, sys
statuses = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] == "verdict":
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
e = json.load(open(sys.argv[2]))
v = e["verdicts"]
count = lambda k: v["in_library"][k] + v["not_in_library"][k]
mine = {"identified": count("identified_right") + count("identified_wrong"),
        "isomers": count("isomers_right") + count("isomers_wrong"),
        "analogue": count("analogue"), "no_match": count("no_match")}
mine = {k: n for k, n in mine.items() if n}
print("agree" if mine == statuses and e["queries"] == sum(statuses.values()) else
      "differ: search %r, eval %r" % (statuses, mine))
' "$TMP/mb40.jsonl" "$TMP/mb40.json"

# Bad input: every spectrum is accounted for, the others are still searched.
cd "$TMP" || exit 1
{
    printf 'Name: Broken count\nNum Peaks: 3\n41 100; 42 50;\n\n'
    cat "$SPECTRA/$S"
    printf '\nName: Bad value\nNum Peaks: 2\n41 100\n42 -7\n\n'
    printf 'Name: Not a number\nNum Peaks: 1\n41 abc\n'
} >bad.msp
: >empty.msp
printf 'this is not a spectrum\n' >junk.msp
check bad_records_jsonl 3 "bad.msp:2: 'Num Peaks: 3' but 2 peaks were read" -- \
    "$SM" search --format jsonl --top 1 bad.msp
check bad_records_table 3 "bad.msp:[0-9]+: abundance -7 at m/z 42 out of range" -- \
    "$SM" search --top 1 bad.msp
check missing_file 4 "nonexistent.msp: cannot open" -- \
    "$SM" search --format jsonl --top 1 nonexistent.msp bad.msp
check empty_file 3 "empty.msp: no spectrum found" -- "$SM" search --format jsonl empty.msp
check junk_file 3 "junk.msp:1: expected a 'Name:' line" -- "$SM" search junk.msp
mkdir batch
cp bad.msp batch/a.msp
cp "$SPECTRA/$S" batch/b.msp
check directory_input 3 "5 spectra read, 2 searched, 3 rejected" -- \
    "$SM" search --format jsonl --top 1 batch

# Other formats, recognized from content: the sample as JCAMP-DX and as a CSV peak
# table (written here from the shared file) gives the same identification.
{
    echo "##TITLE=Fentanyl"
    echo "##JCAMP-DX=4.24"
    echo "##DATA TYPE=MASS SPECTRUM"
    echo "##PEAK TABLE=(XY..XY)"
    awk '/^[0-9]/ {print $1 "," $2}' "$SPECTRA/$S"
    echo "##END="
} >fentanyl.jdx
{ echo "m/z,abundance"; awk '/^[0-9]/ {print $1 "," $2}' "$SPECTRA/$S"; } >fentanyl.csv
cp fentanyl.jdx fentanyl-jcamp.txt
check jcamp_query 0 "" '"rank":1,"name":"Fentanyl","inchikey":"PJMPHNIQZUBGLI-UHFFFAOYSA-N","mf":941.62,"rmf":942.45' -- \
    "$SM" search --format jsonl --top 1 fentanyl.jdx
check jcamp_by_content 0 "" '"query_name":"Fentanyl".*"mf":941.62' -- \
    "$SM" search --format jsonl --top 1 fentanyl-jcamp.txt
check csv_query 0 "" '"query_name":"fentanyl.csv".*"name":"Fentanyl".*"mf":941.62' -- \
    "$SM" search --format jsonl --top 1 fentanyl.csv
check forced_format_wrong 3 "fentanyl.csv:1:" -- "$SM" search --input-format msp fentanyl.csv
check bad_input_format 2 "unknown input format" -- "$SM" search --input-format xml fentanyl.csv

# Usage errors and help.
check no_args 2 "usage:" -- "$SM"
check search_no_query 2 "no query given" -- "$SM" search
check bad_top 2 "--top expects" -- "$SM" search --top 0 x.msp
check bad_format 2 "--format expects" -- "$SM" search --format xml x.msp
check unknown_option 2 "unrecognized option" -- "$SM" search --frobnicate x.msp
check help 0 "" "^usage: specmatch" -- "$SM" --help
check search_help 0 "" "^usage: specmatch search" -- "$SM" search --help
check library_help 0 "" "^usage: specmatch library" -- "$SM" library --help
check build_help 0 "" "^usage: specmatch library build" -- "$SM" library build --help
check info_help 0 "" "^usage: specmatch library info" -- "$SM" library info --help
check library_unknown 2 "unknown library command" -- "$SM" library frob
check version 0 "" "^specmatch [0-9]+\.[0-9]+\.[0-9]+" -- "$SM" --version
check version_hdf5 0 "" "^HDF5 1\." -- "$SM" --version

# Library build and info.
MB="$SPECTRA/massbank-ei-in-library.msp"
sha=$(sha256sum "$MB" | cut -d' ' -f1)
check build 0 "wrote mb.h5: 332 spectra" -- "$SM" library build -o mb.h5 "$MB"
check info 0 "" "sha256 $sha, 332 spectra" -- "$SM" library info mb.h5
check info_count 0 "" "^spectra: +332$" -- "$SM" library info mb.h5
check info_format 0 "" "^format: +specmatch-library 1\.2$" -- "$SM" library info mb.h5
check info_index 0 "" "^search index: +stored \(blocks of 4\), read when the library is opened$" -- "$SM" library info mb.h5
check search_built 0 "" '"query":0,"query_name":"Fentanyl","source":"[^"]*","source_line":1,"rank":1' -- \
    "$SM" search --library mb.h5 --format jsonl --top 1 "$SPECTRA/$S"
check build_bad 3 "library not written" -- "$SM" library build -o badlib.h5 bad.msp
check build_bad_nofile 1 "" -- test -e badlib.h5
check build_skip_bad 0 "wrote skip.h5: 1 spectra" -- "$SM" library build --skip-bad -o skip.h5 bad.msp
check build_no_output 2 "expected -o" -- "$SM" library build "$MB"
check build_stdin 2 "not standard input" -- "$SM" library build -o x.h5 -
check info_not_hdf5 4 "junk.msp" -- "$SM" library info junk.msp
check info_missing 4 "nolib.h5" -- "$SM" library info nolib.h5
cp mb.h5 damaged.h5
size=$(wc -c <damaged.h5)
printf '\377\377\377\377\377\377\377\377' | dd of=damaged.h5 bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
check info_damaged 4 "error" -- "$SM" library info damaged.h5
# Truncated copies and changed bytes: a clear error with exit status 4, never a crash.
for cut in 10 511 600 $((size / 3)) $((size / 2)) $((size - 1)); do
    head -c "$cut" mb.h5 >cut.h5
    check "truncated_at_$cut" 4 "truncated or damaged|not a specmatch library|header is damaged" -- \
        "$SM" search --library cut.h5 "$SPECTRA/$S"
done
for at in 700 $((size / 4)) $((size / 2 + 3)) $((size - 20)); do
    cp mb.h5 flip.h5
    b=$(od -An -tu1 -j "$at" -N1 flip.h5 | tr -d ' ')
    printf "\\$(printf %o $(((b + 1) % 256)))" | dd of=flip.h5 bs=1 seek="$at" conv=notrunc 2>/dev/null
    check "changed_byte_at_$at" 4 "checksum" -- "$SM" library info flip.h5
done
check search_missing_library 4 "nolib.h5" -- "$SM" search --library nolib.h5 "$SPECTRA/$S"
check env_library 4 "nolib.h5" -- env SPECMATCH_LIBRARY=nolib.h5 "$SM" "$SPECTRA/$S"

# convert: what was read, written back; a second pass changes nothing.
check convert_msp 0 "2988 spectra read, 2988 written, 0 rejected" -- \
    sh -c "'$SM' convert --to msp '$SPECTRA/swgdrug-3.4.msp' > conv1.msp"
check convert_again 0 "" -- sh -c "'$SM' convert -q --to msp conv1.msp > conv2.msp && cmp conv1.msp conv2.msp"
check convert_peaks_kept 0 "" -- sh -c "'$SM' convert -q --to jsonl conv1.msp | grep -c '\"type\":\"spectrum\"' | grep -qx 2988"
check convert_fractional 0 "" -- sh -c "'$SM' convert -q --to msp '$SPECTRA/massbank-ei-not-in-library.msp' > conv3.msp && '$SM' convert -q --to msp conv3.msp | cmp - conv3.msp"
check convert_sample_jsonl 0 "" -- sh -c "cd '$SPECTRA' && '$SM' convert -q --to jsonl '$S'"
check convert_bad 3 "bad.msp:2: 'Num Peaks: 3' but 2 peaks were read" \
    '"type":"error","index":3' -- "$SM" convert --to jsonl bad.msp
check convert_no_to 2 "expected --to msp" -- "$SM" convert bad.msp
check convert_help 0 "" "^usage: specmatch convert" -- "$SM" convert --help

# Building over an existing library and killing the build half way leaves the old
# library whole: killed while reading its input (a pipe it waits on), and killed at
# whatever point a short wait reaches (reading, writing the temporary file, or done).
cp mb.h5 keep.h5
old_sum=$(sha256sum mb.h5 | cut -d' ' -f1)
mkfifo slow.fifo
"$SM" library build -q -o mb.h5 slow.fifo &
pid=$!
exec 9>slow.fifo
head -c 100000 "$SPECTRA/swgdrug-3.4.msp" >&9
sleep 0.3
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
exec 9>&-
check kill_reading_intact 0 "" -- sh -c "[ \"\$(sha256sum mb.h5 | cut -d' ' -f1)\" = $old_sum ]"
check kill_reading_info 0 "" "^spectra: +332$" -- "$SM" library info mb.h5
cat "$SPECTRA/swgdrug-3.4.msp" "$SPECTRA/massbank-ei-not-in-library.msp" >big.msp
for delay in 0.05 0.15 0.3 0.5; do
    cp keep.h5 mb.h5
    "$SM" library build -q -o mb.h5 big.msp &
    pid=$!
    sleep $delay
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    check "kill_after_${delay}s_valid" 0 "" "^spectra: +(332|7543)$" -- "$SM" library info mb.h5
done
rm -f mb.h5.tmp.*

# What the analyst puts in the case file: mirror plots (search --plot) and the report.
# cairo writes SVG text as glyph outlines, so the words are checked in the PDF's text.
check plot_files 0 "" -- "$SM" search -q --top 2 --plot "$TMP/plots" "$SPECTRA/$S"
SVG_OK='import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
assert len(root.findall(".//" + ns + "path")) > 100'
PNG_OK='import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR"
assert struct.unpack(">II", b[16:24]) == (1600, 960), struct.unpack(">II", b[16:24])'
check plot_svg_xml 0 "" -- python3 -c "$SVG_OK" "$TMP/plots/q0000-hit1.svg"
check plot_png_size 0 "" -- python3 -c "$PNG_OK" "$TMP/plots/q0000-hit1.png"
check plot_second_hit 0 "" -- python3 -c "$PNG_OK" "$TMP/plots/q0000-hit2.png"
check plot_same_bytes 0 "" -- sh -c "'$SM' search -q --top 1 --plot '$TMP/plots2' '$SPECTRA/$S' >/dev/null &&
    cmp '$TMP/plots/q0000-hit1.svg' '$TMP/plots2/q0000-hit1.svg' &&
    cmp '$TMP/plots/q0000-hit1.png' '$TMP/plots2/q0000-hit1.png'"
check plot_bad_dir 4 "no/such/dir: cannot create the directory" -- \
    "$SM" search -q --plot "$TMP/no/such/dir" "$SPECTRA/$S"
check report_pdf 0 "" -- "$SM" report --date 2026-01-01 -o case.pdf "$SPECTRA/$S"
check report_pdf_renders 0 "" -- sh -c "pdftoppm -r 30 -png case.pdf page && [ -s page-1.png ]"
check report_pdf_text 0 "" -- sh -c "pdftotext case.pdf case.txt && grep -q Fentanyl case.txt &&
    grep -q SCHEDULED case.txt && grep -q presumptive case.txt"
check report_pdf_same_bytes 0 "" -- sh -c "'$SM' report --date 2026-01-01 -o case2.pdf '$SPECTRA/$S' &&
    cmp case.pdf case2.pdf"
check report_html 0 "" -- "$SM" report --date 2026-01-01 --top 2 -o case.html "$SPECTRA/$S"
HTML_OK='import html.parser, sys
t = open(sys.argv[1], encoding="utf-8").read()
p = html.parser.HTMLParser()
p.feed(t)
p.close()
assert "Fentanyl" in t and t.count("<svg") == 2'
check report_html_parses 0 "" -- python3 -c "$HTML_OK" case.html
check report_bad_extension 2 "case.txt: expected a report file ending in .pdf or .html" -- \
    "$SM" report -o case.txt "$SPECTRA/$S"
check report_bad_date 2 "--date expects YYYY-MM-DD" -- "$SM" report --date 1.1.2026 -o c.pdf "$SPECTRA/$S"
check report_missing_query 4 "nothing.msp" -- "$SM" report -o c.pdf nothing.msp
check report_help 0 "" "^usage: specmatch report" -- "$SM" report --help
check report_analogue 0 "" -- sh -c "cat madeup.msp '$SPECTRA/$S' >two.msp &&
    '$SM' report -q --date 2026-01-01 -o two.pdf two.msp && pdftotext two.pdf two.txt &&
    grep -q 'SUSPECTED ANALOGUE' two.txt && grep -q 'Closest known analogue: Fentanyl' two.txt &&
    grep -q 'Spectrum 2: Fentanyl' two.txt && grep -q 'closest known analogue' two.txt"
# search --plot on the made-up analogue: its plot against the closest analogue, the
# shifted ions marked, is written beside the hit plots.
check plot_analogue 0 "" -- sh -c "'$SM' search -q --top 1 --plot aplots madeup.msp >/dev/null &&
    python3 -c '$PNG_OK' aplots/q0000-analogue.png && python3 -c '$SVG_OK' aplots/q0000-analogue.svg"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
