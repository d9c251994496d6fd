#!/usr/bin/env python3
"""docs_runner.py: run every shell block and compile every C sample of the docs.

    tests/docs_runner.py BUILD_DIR [--long] [--cc 'CC FLAGS'] [-v] [FILE.md ...]
    tests/docs_runner.py --self-test BUILD_DIR

BUILD_DIR holds the built `soma` (put first on PATH), libsoma.so and, when
built, examples/. Without FILEs: README.md and docs/*.md of the repository.
ctest runs it as `docs` (label docs) and its self-test as `docs_runner_selftest`.

Conventions (TESTING.md repeats them for writers of docs):

* A fenced block's info string says what the runner does with it:
  - ```sh / ```bash: a script. It runs in bash (`set -e`), line by line as
    written; it passes when it exits 0. Its output is not compared.
  - ```console: a transcript. Each `$ CMD` line is a command (a line ending
    in `\\` continues it); the lines up to the next `$ ` line are its output,
    standard output and standard error together, as a terminal shows them.
    The commands of a block run in one bash, in order, so `$ echo $?` shows
    the exit status of the command before it. A command must exit 0 unless
    the next command of the transcript is `echo $?`.
  - ```c: a C sample. With a `main` it is a program: compiled with
    `-Wall -Wextra -Werror`, linked against BUILD_DIR's libsoma.so and run
    (it must exit 0). Without one it is a fragment: its lines become the
    body of a function after `#include <soma.h>`, <stdio.h>, <stdlib.h> and
    PRELUDE below (extern declarations of the names the docs' fragments
    share: `dev`, `model`, `x`, ...), and it is compiled, not run. A line
    that starts with `...` stands for code left out (it becomes a comment).
  - anything else (no tag, json, cmake, text) is not run. An untagged block
    or an sh block holding a `$ ` line is an error: a transcript must say
    ```console so that it is run.
* Expected output is compared line by line after runs of blanks are made
  one blank (columns realign when a figure is wider):
  - a line that is `...` stands for any number of lines (none included);
    `...` inside a line stands for any text;
  - numbers (`-1.5e-03`, `0.9819`, the 256 of `256x784`) must be equal as
    written, unless the block's marker says otherwise (below);
  - the user's home directory in the output is written `/root`, as the
    docs show it (they were made as root).
* Markers: HTML comments (invisible on GitHub) on the lines just above the
  fence; several may be given, one per line:
  - `<!-- docs-runner: skip (REASON) -->`: not run, counted as skipped; the
    reason is required (needs a GPU, needs the network, builds the project).
  - `<!-- docs-runner: numbers vary (REASON) -->`: every number matches any
    number; the words, the punctuation and the number of lines are still
    compared (timings, figures that differ by CPU: AVX2 and AVX-512 sum in
    different orders).
  - `<!-- docs-runner: numbers within P% -->`: numbers match when
    |actual - shown| <= P% of |shown|.
  - `<!-- docs-runner: output varies (REASON) -->`: only the exit statuses
    are checked.
  - `<!-- docs-runner: requires CMD -->`: the block runs only where the
    shell command CMD succeeds (`python3 -c 'import torch'`); elsewhere it
    is skipped, saying which requirement failed, as ctest skips a test.
  - `<!-- docs-runner: long; quick: CMD -->`: the block takes long (a full
    MNIST training). Without --long (DOCS_RUNNER_LONG=1) it is skipped and
    CMD (a shorter command making the same files) runs instead; the page's
    later transcripts then compare numbers as `numbers vary`, since they
    describe the long run's results.
* Blocks run from a scratch copy of the repository (BUILD_DIR linked in as
  `build`), one per page, the blocks of a page in order, so a page can train
  a model in one block and use it in the next; nothing in the tree is
  written. Blocks naming `mnist` are skipped (and said so) when MNIST is not
  in $SOMA_DATA/mnist or ~/.cache/soma/mnist (scripts/fetch-mnist.sh puts it
  there).
* The last line counts the blocks run, compiled, compared and skipped; the
  exit status is 1 when any block failed, 0 otherwise.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

PRELUDE = r"""
/* names the docs' C fragments share (docs_runner.py); a fragment that
   declares one of them shadows it */
extern soma_device *dev;
extern soma_mlp *model;
extern soma_optimizer *opt;
extern soma_dataset *data, *train, *val, *test;
extern soma_tensor *x, *y, *w, *z, *a, *b, *da, *dout, *labels, *loss;
extern soma_rng dropout_rng;
extern soma_normalizer norm;
extern soma_train_state state;
extern soma_train_config tc;
extern int epochs, steps_per_epoch;
extern int64_t rows;
extern float *host_pixels, *host_out, *features, *outputs, *p;
extern double accuracy;
int print_epoch(const soma_epoch_report *report, void *user);
"""

MARK = re.compile(r'^\s*<!--\s*docs-runner:\s*(.*?)\s*-->\s*$')
FENCE = re.compile(r'^(\s*)```\s*([A-Za-z0-9_+-]*)\s*$')
NUMBER = r'[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?'
SHELL_TAGS = ('sh', 'bash', 'shell')


class Block:
    def __init__(self, path, line, tag, body, marks):
        self.path, self.line, self.tag, self.body, self.marks = path, line, tag, body, marks

    def where(self):
        return f'{self.path}:{self.line}'


def parse(path):
    """The fenced blocks of a markdown file, each with the markers above it."""
    lines = open(path, encoding='utf-8').read().split('\n')
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, tag = m.group(1), m.group(2).lower()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith('```'):
            j += 1
        body = [l[len(indent):] if l.startswith(indent) else l for l in lines[i + 1:j]]
        marks, k = [], i - 1
        while k >= 0 and (MARK.match(lines[k]) or (not lines[k].strip() and k == i - 1)):
            if MARK.match(lines[k]):
                marks.insert(0, MARK.match(lines[k]).group(1))
            k -= 1
        blocks.append(Block(path, i + 1, tag, body, marks))
        i = j + 1
    return blocks


def marker_options(block):
    """(skip reason, numbers mode, tolerance, quick command, requirements, error) from the markers."""
    skip = quick = None
    requires = []
    mode, tol = 'exact', 0.0
    for mk in block.marks:
        if mk.startswith('skip'):
            r = re.match(r'skip\s*\((.+)\)$', mk)
            if not r:
                return None, mode, tol, None, [], f'"{mk}": skip needs a reason in parentheses'
            skip = r.group(1)
        elif mk.startswith('numbers vary'):
            mode = 'vary'
        elif mk.startswith('output varies'):
            mode = 'ignore'
        elif mk.startswith('numbers within'):
            r = re.match(r'numbers within\s+([0-9.]+)\s*%$', mk)
            if not r:
                return None, mode, tol, None, [], f'"{mk}": write "numbers within P%"'
            mode, tol = 'within', float(r.group(1)) / 100
        elif mk.startswith('requires '):
            requires.append(mk[len('requires '):].strip())
        elif mk.startswith('long'):
            r = re.match(r'long;\s*quick:\s*(.+)$', mk)
            if not r:
                return None, mode, tol, None, [], f'"{mk}": write "long; quick: CMD"'
            quick = r.group(1)
        else:
            return None, mode, tol, None, [], f'unknown marker "{mk}"'
    return skip, mode, tol, quick, requires, None


def line_pattern(expected):
    """A regex for one expected line: numbers captured, `...` any text, blanks any blanks."""
    out, nums, pos = [], [], 0
    for m in re.finditer(r'\.\.\.|' + NUMBER + r'|\s+', expected):
        out.append(re.escape(expected[pos:m.start()]))
        t = m.group(0)
        if t == '...':
            out.append('.*?')
        elif t.isspace():
            out.append(r'\s+')
        else:
            out.append('(' + NUMBER + ')')
            nums.append(t)
        pos = m.end()
    out.append(re.escape(expected[pos:]))
    return re.compile(''.join(out)), nums


def numbers_agree(shown, got, mode, tol):
    if mode == 'vary':
        return True
    if mode == 'exact':
        return shown == got
    s, g = float(shown), float(got)
    return abs(g - s) <= tol * abs(s)


def line_matches(expected, actual, mode, tol):
    exp = ' '.join(expected.split())
    act = ' '.join(actual.split())
    pat, nums = line_pattern(exp)
    m = pat.fullmatch(act)
    if not m:
        return False
    return all(numbers_agree(s, g, mode, tol) for s, g in zip(nums, m.groups()))


def output_matches(expected, actual, mode, tol):
    """Expected lines against actual ones; a `...` line matches any run of lines."""
    while expected and not expected[-1].strip():
        expected = expected[:-1]
    while actual and not actual[-1].strip():
        actual = actual[:-1]
    memo = {}

    def go(i, j):
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(expected):
            r = j == len(actual)
        elif expected[i].strip() == '...':
            r = go(i + 1, j) or (j < len(actual) and go(i, j + 1))
        else:
            r = j < len(actual) and line_matches(expected[i], actual[j], mode, tol) and go(i + 1, j + 1)
        memo[(i, j)] = r
        return r
    return go(0, 0)


def first_difference(expected, actual, mode, tol):
    """A short note on where the output departs from the docs (for the failure message)."""
    j = 0
    for e in expected:
        if e.strip() == '...':
            return 'after a "..." line: the lines that follow were not found in order'
        if j >= len(actual):
            return f'shown:  {e!r}\n      got:    (no more output)'
        if not line_matches(e, actual[j], mode, tol):
            return f'shown:  {e!r}\n      got:    {actual[j]!r}'
        j += 1
    return f'more output than shown: {actual[j]!r}' if j < len(actual) else 'lines differ'


def transcript(body):
    """[(command, [expected lines])] from a console block."""
    cmds, cur = [], None
    i = 0
    while i < len(body):
        l = body[i]
        if l.startswith('$ '):
            cmd = l[2:]
            while cmd.endswith('\\') and i + 1 < len(body):
                i += 1
                cmd = cmd[:-1] + '\n' + body[i]
            cur = (cmd, [])
            cmds.append(cur)
        elif cur is not None:
            cur[1].append(l)
        i += 1
    return cmds


class Runner:
    def __init__(self, build, cc, long_runs, verbose):
        self.build = os.path.abspath(build)
        self.cc, self.long, self.verbose = cc, long_runs, verbose
        self.counts = dict(run=0, compiled=0, compared=0, skipped=0, failed=0)
        self.repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        data = os.environ.get('SOMA_DATA', os.path.expanduser('~/.cache/soma'))
        self.have_mnist = os.path.exists(os.path.join(data, 'mnist', 't10k-labels-idx1-ubyte'))
        self.env = dict(os.environ)
        self.env['PATH'] = self.build + os.pathsep + self.env.get('PATH', '')
        self.env.pop('SOMA_FETCH_MNIST', None)
        self.home = os.path.expanduser('~')

    def fail(self, block, msg):
        self.counts['failed'] += 1
        print(f'FAIL {block.where()}: {msg}')

    def skip(self, block, why):
        self.counts['skipped'] += 1
        print(f'skip {block.where()}: {why}')

    def scratch(self):
        """A copy of the repository's sources (no .git, no build trees), BUILD_DIR linked as build."""
        d = tempfile.mkdtemp(prefix='soma-docs-')
        for name in os.listdir(self.repo):
            if name == '.git' or name.startswith('build'):
                continue
            src = os.path.join(self.repo, name)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(d, name), symlinks=True)
            else:
                shutil.copy2(src, os.path.join(d, name))
        os.symlink(self.build, os.path.join(d, 'build'))
        return d

    def page(self, path):
        blocks = parse(path)
        rel = os.path.relpath(path, self.repo) if path.startswith(self.repo) else path
        for b in blocks:
            b.path = rel
        work, degraded = None, False
        try:
            for b in blocks:
                skip, mode, tol, quick, requires, err = marker_options(b)
                if err:
                    self.fail(b, err)
                    continue
                runs_shell = b.tag in SHELL_TAGS or b.tag == 'console'
                has_prompt = any(l.startswith('$ ') for l in b.body)
                if has_prompt and b.tag != 'console' and b.tag != 'c' and not skip:
                    self.fail(b, f'a transcript ("$ " lines) in a block tagged "{b.tag or "(none)"}": '
                                 'tag it ```console so that it is run (or mark it skip with a reason)')
                    continue
                if not runs_shell and b.tag != 'c':
                    continue
                if skip:
                    self.skip(b, skip)
                    continue
                if runs_shell and not self.have_mnist and re.search(r'\bmnist\b', '\n'.join(b.body)):
                    self.skip(b, 'needs MNIST (scripts/fetch-mnist.sh; not in ~/.cache/soma/mnist)')
                    continue
                if work is None:
                    work = self.scratch()
                missing = [r for r in requires if self.bash(work, r + ' >/dev/null 2>&1').returncode != 0]
                if missing:
                    self.skip(b, f'requires `{missing[0]}`, which fails here')
                    continue
                if b.tag == 'c':
                    self.c_sample(b, work)
                elif quick and not self.long:
                    self.skip(b, f'long (run with --long); ran instead: {quick}')
                    r = self.bash(work, 'set -e\n' + quick + '\n')
                    if r.returncode != 0:
                        self.fail(b, f'the quick command exited {r.returncode}:\n{r.stdout[-2000:]}')
                    degraded = True
                elif b.tag == 'console':
                    self.console(b, work, 'vary' if degraded and mode in ('exact', 'within') else mode, tol)
                else:
                    self.script(b, work)
        finally:
            if work:
                shutil.rmtree(work, ignore_errors=True)

    def bash(self, cwd, script, timeout=600):
        return subprocess.run(['bash', '-c', script], cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors='replace', timeout=timeout)

    def script(self, b, work):
        self.counts['run'] += 1
        r = self.bash(work, 'set -e\n' + '\n'.join(b.body) + '\n')
        if r.returncode != 0:
            self.fail(b, f'exited {r.returncode}; output:\n{r.stdout[-3000:]}')
        elif self.verbose:
            print(f'ok   {b.where()}: ran')

    def console(self, b, work, mode, tol):
        cmds = transcript(b.body)
        if not cmds:
            self.fail(b, 'a console block without a "$ " command')
            return
        self.counts['run'] += 1
        tag = 'DOCS-RUNNER-b7c1'
        parts = ['__rc=0']
        for i, (cmd, _) in enumerate(cmds):
            # the status is set again after the marker, so that `echo $?` sees the command's
            parts.append(f"printf '%s\\n' '@@{tag} {i}@@'; (exit $__rc)\n{cmd}\n"
                         f"__rc=$?; printf '\\n@@{tag} rc %d@@\\n' $__rc")
        r = self.bash(work, '\n'.join(parts) + '\n')
        outs, rcs = {}, {}
        cur = None
        for l in r.stdout.split('\n'):
            m = re.fullmatch(r'@@' + tag + r' (\d+)@@', l)
            if m:
                cur = int(m.group(1))
                outs[cur] = []
                continue
            m = re.fullmatch(r'@@' + tag + r' rc (\d+)@@', l)
            if m:
                rcs[cur] = int(m.group(1))
                # the newline printed before the rc marker: drop the empty line it may leave
                if outs[cur] and outs[cur][-1] == '':
                    outs[cur].pop()
                continue
            if cur is not None:
                outs[cur].append(l.replace(self.home, '/root') if self.home != '/' else l)
        ok = True
        for i, (cmd, expected) in enumerate(cmds):
            got = outs.get(i)
            if got is None or i not in rcs:
                self.fail(b, f'`{cmd}` did not finish (the block stopped): {r.stdout[-2000:]}')
                return
            nxt = cmds[i + 1][0].strip() if i + 1 < len(cmds) else ''
            if rcs[i] != 0 and nxt != 'echo $?':
                self.fail(b, f'`{cmd}` exited {rcs[i]} (show it with `$ echo $?` if meant); output:\n'
                             + '\n'.join(got[-30:]))
                ok = False
                continue
            if mode == 'ignore':
                continue
            if not output_matches(expected, got, mode, tol):
                self.fail(b, f'the output of `{cmd}` is not the one shown ({mode} numbers):\n      '
                             + first_difference(expected, got, mode, tol)
                             + '\n  whole output:\n' + '\n'.join('    ' + l for l in got[:40]))
                ok = False
        if mode != 'ignore':
            self.counts['compared'] += 1
        if ok and self.verbose:
            print(f'ok   {b.where()}: {len(cmds)} commands')

    def c_sample(self, b, work):
        src = '\n'.join(re.sub(r'^(\s*)\.\.\.(?=\s|$)', r'\1/* ... */', l) for l in b.body)
        program = re.search(r'\bint\s+main\s*\(', src) is not None
        if not program:
            src = ('#include <soma.h>\n#include <stdio.h>\n#include <stdlib.h>\n' + PRELUDE +
                   'void docs_fragment(void);\nvoid docs_fragment(void)\n{\n#line ' + str(b.line + 1) + ' "' + b.path + '"\n'
                   + src + '\n}\n')
        c = os.path.join(work, 'docs_sample.c')
        with open(c, 'w') as f:
            f.write(src)
        inc = os.path.join(self.repo, 'include')
        flags = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-Wno-unused-variable',
                 '-Wno-unused-but-set-variable', '-Wno-unused-parameter', '-I', inc]
        if program:
            exe = os.path.join(work, 'docs_sample')
            cmd = shlex.split(self.cc) + flags + [c, '-o', exe, os.path.join(self.build, 'libsoma.so'),
                                       '-Wl,-rpath,' + self.build, '-lm']
        else:
            cmd = shlex.split(self.cc) + flags + ['-c', c, '-o', os.path.join(work, 'docs_sample.o')]
        r = subprocess.run(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.counts['compiled'] += 1
        if r.returncode != 0:
            self.fail(b, 'does not compile:\n' + r.stdout[-3000:])
            return
        if program:
            self.counts['run'] += 1
            r = subprocess.run([exe], cwd=work, env=self.env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=300)
            if r.returncode != 0:
                self.fail(b, f'the program exited {r.returncode}:\n{r.stdout[-2000:]}')
                return
        if self.verbose:
            print(f'ok   {b.where()}: compiled' + (' and ran' if program else ''))

    def summary(self):
        c = self.counts
        print(f"docs runner: {c['run']} run, {c['compiled']} compiled, {c['compared']} compared, "
              f"{c['skipped']} skipped, {c['failed']} failed")
        return 1 if c['failed'] else 0


SELF_TEST = {
    # name: (markdown, must pass)
    'good': ("<!-- docs-runner: numbers within 10% -->\n```console\n$ echo 'loss 0.1000  acc 0.98'\n"
             "loss 0.105 acc 0.99\n$ false\n$ echo $?\n1\n$ printf 'a\\nb\\nc\\nd 7\\n'\na\n...\nd 7\n```\n"
             "```sh\ntest -f README.md\n```\n```c\nsoma_device_close(dev);\n...\n```\n", True),
    'wrong output': ("```console\n$ echo 'accuracy 0.9819'\naccuracy 0.9818\n```\n", False),
    'wrong word': ("<!-- docs-runner: numbers vary (timings) -->\n```console\n$ echo 'loss 0.5 in 3s'\n"
                   "loss 0.4 in 2 s\n```\n", False),
    'beyond tolerance': ("<!-- docs-runner: numbers within 1% -->\n```console\n$ echo 0.50\n0.52\n```\n", False),
    'failing command': ("```console\n$ soma no-such-command\n```\n", False),
    'failing script': ("```sh\nsoma train --no-such-option\n```\n", False),
    'untagged transcript': ("```\n$ echo hi\nhi\n```\n", False),
    'skip without a reason': ("<!-- docs-runner: skip -->\n```sh\ntrue\n```\n", False),
    'unknown marker': ("<!-- docs-runner: sometimes -->\n```sh\ntrue\n```\n", False),
    'bad C': ("```c\nsoma_device_close(dev, 1);\n```\n", False),
    'missing output line': ("```console\n$ printf 'a\\nb\\n'\na\n```\n", False),
}


def self_test(build, cc):
    bad = 0
    d = tempfile.mkdtemp(prefix='soma-docs-self-')
    try:
        for name, (md, must_pass) in SELF_TEST.items():
            path = os.path.join(d, name.replace(' ', '_') + '.md')
            with open(path, 'w') as f:
                f.write(md)
            r = subprocess.run([sys.executable, os.path.abspath(__file__), build, '--cc', cc, path],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            passed = r.returncode == 0
            verdict = 'ok' if passed == must_pass else 'WRONG'
            bad += passed != must_pass
            last = r.stdout.strip().split('\n')
            print(f'{verdict:5} {name}: the runner {"passed" if passed else "failed"} '
                  f'({"expected" if passed == must_pass else "unexpected"}): {last[-1]}')
            if passed != must_pass or not passed:
                print('      ' + '\n      '.join(last[:4]))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(f'docs runner self-test: {len(SELF_TEST) - bad} of {len(SELF_TEST)} cases as expected')
    return 1 if bad else 0


def main(argv):
    args = argv[1:]
    long_runs = os.environ.get('DOCS_RUNNER_LONG') == '1'
    cc = os.environ.get('CC', 'cc')
    verbose, selftest, files, build = False, False, [], None
    i = 0
    while i < len(args):
        a = args[i]
        if a == '--long':
            long_runs = True
        elif a == '--self-test':
            selftest = True
        elif a in ('-v', '--verbose'):
            verbose = True
        elif a == '--cc':
            i += 1
            cc = args[i]
        elif build is None:
            build = a
        else:
            files.append(os.path.abspath(a))
        i += 1
    if build is None or not os.path.exists(os.path.join(build, 'soma')):
        print('usage: docs_runner.py BUILD_DIR [--long] [--cc CC] [-v] [FILE.md ...] '
              '(BUILD_DIR must hold the built soma)', file=sys.stderr)
        return 2
    if selftest:
        return self_test(build, cc)
    runner = Runner(build, cc, long_runs, verbose)
    if not files:
        files = [os.path.join(runner.repo, 'README.md')] + sorted(
            os.path.join(runner.repo, 'docs', f) for f in os.listdir(os.path.join(runner.repo, 'docs'))
            if f.endswith('.md'))
    for f in files:
        runner.page(f)
    return runner.summary()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
