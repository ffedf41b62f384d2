#!/bin/sh
# Runs the xbuf command-line inspector (tools/xbuf.c) on good and bad
# formats and checks what it prints and the exit status.  POSIX sh only,
# so the meson test needs nothing beyond the tool itself.
#   usage: check_cli.sh PATH/TO/xbuf
xbuf=${1:?usage: check_cli.sh PATH/TO/xbuf}
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL: $*"
    echo "--- stdout:"; cat "$out"
    echo "--- stderr:"; cat "$err"
}

# run EXPECTED_STATUS ARGS...: run the tool, keep its output in $out/$err.
run() {
    expected=$1
    shift
    "$xbuf" "$@" >"$out" 2>"$err"
    status=$?
    if [ "$status" -eq "$expected" ]; then ok; else bad "xbuf $* exited $status, expected $expected"; fi
}

# has FILE REGEX: a line of FILE matches the extended regular expression.
has() {
    if grep -E -q -- "$2" "$1"; then ok; else bad "no line matching '$2'"; fi
}

# line_is FILE N TEXT: line N of FILE is exactly TEXT.
line_is() {
    actual=$(sed -n "$2p" "$1")
    if [ "$actual" = "$3" ]; then ok; else bad "line $2 is '$actual', expected '$3'"; fi
}

# ---- a good struct: one row per leaf, then size, alignment, canonical form
run 0 format 'T{<i:x:(2,2)d:y:}'
has "$out" '^ +path +offset +size +kind +code +order +detail$'
has "$out" '^ +x +0 +4 +int +i +< *$'
has "$out" '^ +y\[0\]\[0\] +4 +8 +float +d +< *$'
has "$out" '^ +y\[1\]\[1\] +28 +8 +float +d +< *$'
has "$out" '^ +itemsize 36, alignment 1, 5 leaves$'
has "$out" '^ +canonical @?T\{<i:x:\(2,2\)d:y:\}$'
[ ! -s "$err" ] && ok || bad "a good format wrote to stderr"

# ---- columns line up: every leaf row has its offset ending in one column
run 0 format 'T{b:a:xxxi:bb:T{h:c:}:nested:}'
cols=$(grep -E '^ +[a-z.]+ +[0-9]+ +[0-9]+ ' "$out" |
       awk '{ match($0, /^ +[^ ]+ +[0-9]+/); print RLENGTH }' | sort -u | wc -l)
[ "$cols" -eq 1 ] && ok || bad "offset column is not aligned"
has "$out" '^ +nested\.c +8 +2 +int +h +< *$'
has "$out" '/\* hole: 3 bytes of padding \*/'

# ---- bits, strings and pointers carry their details
run 0 format 'T{3t:a:5t:b:10s:s:&<i:p:}'
has "$out" '^ +a +0 +1 +bits +t +\| +bit 0, width 3$'
has "$out" '^ +b +0 +1 +bits +t +\| +bit 3, width 5$'
has "$out" '^ +s +1 +10 +bytes +s +\| +length 10$'
has "$out" '^ +p +16 +8 +pointer +& +< +-> <i$'
has "$out" 'tail: 2 bytes of padding|hole: 5 bytes of padding'

# ---- several formats in one call; a scalar and big-endian order
run 0 format '>h' 'Zd'
has "$out" '^>h$'
has "$out" '^ +\(item\) +0 +2 +int +h +>$'
has "$out" '^ +\(item\) +0 +16 +complex +Zd +<$'

# ---- a malformed format: the string, a caret under err.position, the reason
run 1 format 'T{i:x:'
line_is "$err" 2 '  T{i:x:'
line_is "$err" 3 '        ^'
has "$err" "expected '}'"
[ ! -s "$out" ] && ok || bad "a malformed format wrote to stdout"

run 1 format 'iiy'
line_is "$err" 3 '    ^'
has "$err" 'expected a format code'

run 1 format 'T{i}}'
has "$err" "unbalanced '}'"
line_is "$err" 3 '      ^'

# ---- one bad format among good ones: the good ones still print, status 1
run 1 format 'i' '(2' 'd'
has "$out" '^i$'
has "$out" '^d$'
has "$err" '^  \(2$'

# ---- usage
run 0 --help
has "$out" '^usage: xbuf format'
run 0 --version
has "$out" '^xbuf [0-9]+\.[0-9]+\.[0-9]+ \(library [0-9.]+\)$'
run 2
run 2 format
run 2 frobnicate
has "$err" 'unknown command'
run 2 format --bogus i

echo "check_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
