using System.Globalization;
using System.Text;

namespace Research.Model.Training;

/// <summary>
/// Shows a long loop's progress: step/total, epoch, every loss term, learning rate, gradient norm, items/s, time
/// per step, elapsed time and ETA (from the mean of the recent step times, see <see cref="EtaEstimator"/>). On a
/// terminal it is one line redrawn in place; otherwise (a log file, a pipe, a <see cref="StringWriter"/>) a plain line
/// every N steps or T seconds. <see cref="Message"/> prints a line without breaking the bar. Construct it just before
/// the loop: the first step's time is measured from construction.
/// </summary>
public sealed class Progress : IDisposable
{
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    readonly object gate = new();
    readonly long total;
    readonly TextWriter output;
    readonly bool bar;
    readonly int everySteps;
    readonly TimeSpan every;
    readonly TimeSpan barRefresh;
    readonly int width;
    readonly TimeProvider clock;
    readonly EtaEstimator eta;
    readonly DateTimeOffset started;
    DateTimeOffset lastStepAt;
    DateTimeOffset lastShownAt;
    string? lastLine;
    bool lastLineShown = true;
    int drawnLength;
    bool disposed;

    /// <param name="totalSteps">the step count the loop ends at (at least 1)</param>
    /// <param name="options">output, mode, intervals, ETA window, clock</param>
    public Progress(long totalSteps, ProgressOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        var o = options ?? new ProgressOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(o.EverySteps, 1, nameof(ProgressOptions.EverySteps));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(o.Every, TimeSpan.Zero, nameof(ProgressOptions.Every));
        total = totalSteps;
        output = o.Output ?? Console.Out;
        bar = o.Mode switch
        {
            ProgressMode.Bar => true,
            ProgressMode.Lines => false,
            _ => o.Output is null && !Console.IsOutputRedirected,
        };
        everySteps = o.EverySteps;
        every = o.Every;
        barRefresh = o.BarRefresh;
        width = Math.Max(20, o.Width ?? (bar ? ConsoleWidth() - 1 : int.MaxValue));
        clock = o.Clock;
        eta = new EtaEstimator(o.EtaWindow);
        started = clock.GetUtcNow();
        lastStepAt = started;
        lastShownAt = started;
    }

    /// <summary>Whether this display redraws one line in place (else it prints lines).</summary>
    public bool IsBar => bar;

    /// <summary>Records one step (its time since the previous call feeds the ETA) and shows it when due.</summary>
    public void Step(StepResult result, int epoch, double itemsPerSecond)
    {
        ArgumentNullException.ThrowIfNull(result);
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            var now = clock.GetUtcNow();
            eta.Add(now - lastStepAt > TimeSpan.Zero ? now - lastStepAt : TimeSpan.Zero);
            lastStepAt = now;
            lastLine = Line(result, epoch, itemsPerSecond, now);
            lastLineShown = false;
            bool last = result.Step >= total;
            if (bar)
            {
                if (last || drawnLength == 0 || now - lastShownAt >= barRefresh)
                {
                    Draw(lastLine);
                    lastShownAt = now;
                }
            }
            else if (last || result.Step % everySteps == 0 || now - lastShownAt >= every)
            {
                WriteLine(lastLine);
                lastShownAt = now;
            }
        }
    }

    /// <summary>Prints an evaluation's metrics as one message line ("eval valid @ step 100: f1 0.6120, wa 0.6400").</summary>
    public void Evaluation(long step, IReadOnlyDictionary<string, double> metrics, string split)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        string values = string.Join(", ", metrics.Select(m => $"{m.Key} {m.Value.ToString("0.0000", Invariant)}"));
        Message($"eval {split} @ step {step}: {values}");
    }

    /// <summary>Prints a line of text; on a terminal the bar is cleared first and redrawn below it.</summary>
    public void Message(string text)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (bar && drawnLength > 0)
            {
                output.Write("\r" + new string(' ', drawnLength) + "\r");
                output.Write(text + "\n");
                drawnLength = 0;
                Draw(lastLine!);
            }
            else
            {
                output.Write(text + "\n");
                output.Flush();
            }
        }
    }

    /// <summary>Shows the last step if it was not shown, and ends the bar's line.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }
            disposed = true;
            if (lastLine is not null && !lastLineShown)
            {
                if (bar)
                {
                    Draw(lastLine);
                }
                else
                {
                    WriteLine(lastLine);
                }
            }
            if (bar && drawnLength > 0)
            {
                output.Write("\n");
                output.Flush();
            }
        }
    }

    /// <summary>A duration as "42s", "4m05s", "1h02m03s" or "2d03h04m" (rounded to the second).</summary>
    public static string FormatDuration(TimeSpan t)
    {
        long s = (long)Math.Round(Math.Max(0, t.TotalSeconds));
        return s switch
        {
            < 60 => $"{s}s",
            < 3600 => $"{s / 60}m{s % 60:00}s",
            < 86400 => $"{s / 3600}h{s / 60 % 60:00}m{s % 60:00}s",
            _ => $"{s / 86400}d{s / 3600 % 24:00}h{s / 60 % 60:00}m",
        };
    }

    string Line(StepResult r, int epoch, double itemsPerSecond, DateTimeOffset now)
    {
        var b = new StringBuilder();
        b.Append(Invariant, $"step {r.Step}/{total} ({100.0 * r.Step / total:0.0}%) | epoch {epoch} | loss {r.Total:0.0000}");
        void Term(string name, double? value)
        {
            if (value is double v)
            {
                b.Append(Invariant, $" {name} {v:0.0000}");
            }
        }
        Term("asr", r.Asr);
        Term("speaker", r.Speaker);
        Term("emotion", r.Emotion);
        b.Append(Invariant, $" | lr {r.LearningRate:0.00e+00} | gnorm {r.GradNorm:0.00} | {itemsPerSecond:0.0} items/s");
        var perStep = eta.PerStep;
        b.Append(Invariant, $" | {(perStep is TimeSpan p ? p.TotalMilliseconds : r.Milliseconds):0} ms/step");
        var remaining = eta.Remaining(total - r.Step);
        b.Append($" | elapsed {FormatDuration(now - started)} | ETA {(remaining is TimeSpan t ? FormatDuration(t) : "?")}");
        return b.ToString();
    }

    void WriteLine(string line)
    {
        output.Write(line + "\n");
        output.Flush();
        lastLineShown = true;
    }

    void Draw(string line)
    {
        string shown = line.Length <= width ? line : line[..(width - 1)] + "…";
        string pad = shown.Length < drawnLength ? new string(' ', drawnLength - shown.Length) : "";
        output.Write("\r" + shown + pad);
        output.Flush();
        drawnLength = shown.Length;
        lastLineShown = true;
    }

    static int ConsoleWidth()
    {
        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth : 120;
        }
        catch (IOException)
        {
            return 120;
        }
        catch (PlatformNotSupportedException)
        {
            return 120;
        }
    }
}
