namespace Research.Model.Demo;

/// <summary>
/// Emotion labels of the demo corpus and how they show: intensities in [0, 3] on MOSEI's scale (annotator
/// means, so multiples of 1/3), drawn with MOSEI-like imbalance; each present emotion leaves a cue in the
/// words, in the prosody and on the face, each cue present only part of the time, so no modality alone is enough.
/// </summary>
public static class DemoEmotions
{
    /// <summary>Emotion order of MOSEI's label columns (after sentiment).</summary>
    public static readonly string[] Names = ["happy", "sad", "anger", "surprise", "disgust", "fear"];

    /// <summary>Probability that an emotion is present in a segment: happy common, fear rare (as in MOSEI).</summary>
    public static readonly double[] Prevalence = [0.5, 0.28, 0.22, 0.1, 0.17, 0.08];

    /// <summary>Probability that a present emotion shows in each modality.</summary>
    public const double WordCue = 0.6,
        ProsodyCue = 0.7,
        FaceCue = 0.7;

    /// <summary>Six intensities; a present emotion gets k/3 for k in 1..9, smaller values more likely.</summary>
    public static float[] DrawIntensities(Random rng)
    {
        var result = new float[Names.Length];
        for (int e = 0; e < Names.Length; e++)
        {
            if (rng.NextDouble() < Prevalence[e])
            {
                // Triangular towards low intensities, like annotator means.
                int k = 1 + (int)(9 * Math.Min(rng.NextDouble(), rng.NextDouble()));
                result[e] = k / 3f;
            }
        }
        return result;
    }

    /// <summary>MOSEI's sentiment column in [-3, 3]: positive minus negative emotion, clipped.</summary>
    public static float Sentiment(float[] intensities) =>
        Math.Clamp(
            intensities[0] + 0.3f * intensities[3] - intensities[1] - intensities[2] - 0.5f * intensities[4] - 0.5f * intensities[5],
            -3f,
            3f
        );

    /// <summary>Which modalities carry the cue of each emotion in one segment.</summary>
    public sealed record Cues(bool[] Words, bool[] Prosody, bool[] Face);

    /// <summary>Draws, per present emotion, whether each modality shows it.</summary>
    public static Cues DrawCues(float[] intensities, Random rng)
    {
        bool[] Draw(double p) => intensities.Select(i => i > 0 && rng.NextDouble() < p).ToArray();
        return new Cues(Draw(WordCue), Draw(ProsodyCue), Draw(FaceCue));
    }

    /// <summary>
    /// The six intensities scaled to [0, 1] where the cue is on, 0 where it is off, in label order (happy, sad,
    /// anger, surprise, disgust, fear).
    /// </summary>
    static (float Happy, float Sad, float Anger, float Surprise, float Disgust, float Fear) Shown(float[] intensities, bool[] on)
    {
        float S(int e) => on[e] ? intensities[e] / 3f : 0f;
        return (S(0), S(1), S(2), S(3), S(4), S(5));
    }

    /// <summary>espeak-ng prosody for a speaker and the emotions whose prosody cue is on.</summary>
    public static Prosody ProsodyOf(DemoSpeaker speaker, float[] intensities, bool[] on)
    {
        var (happy, sad, anger, surprise, disgust, fear) = Shown(intensities, on);
        int pitch = (int)Math.Round(speaker.Pitch + 18 * happy + 22 * surprise + 15 * fear - 18 * sad - 8 * disgust);
        double rate = speaker.Rate * (1 + 0.2 * happy + 0.25 * anger + 0.2 * fear - 0.3 * sad - 0.15 * disgust);
        int amplitude = (int)Math.Round(100 + 60 * anger + 20 * happy - 45 * sad);
        int gap = (int)Math.Round(8 * sad + 4 * disgust);
        return new Prosody(Math.Clamp(pitch, 0, 99), (int)Math.Round(rate), Math.Clamp(amplitude, 20, 200), Math.Clamp(gap, 0, 20));
    }

    /// <summary>Facial expression for the emotions whose face cue is on.</summary>
    public static Expression ExpressionOf(float[] intensities, bool[] on)
    {
        var (happy, sad, anger, surprise, disgust, fear) = Shown(intensities, on);
        return new Expression(
            Smile: Math.Clamp(happy - 0.8f * sad - 0.6f * disgust - 0.3f * anger, -1f, 1f),
            BrowRaise: Math.Clamp(surprise + 0.6f * fear - 0.8f * anger, -1f, 1f),
            BrowTilt: Math.Clamp(sad + 0.5f * fear - anger, -1f, 1f),
            EyeOpen: Math.Clamp(0.5f + 0.5f * surprise + 0.4f * fear - 0.3f * disgust, 0.1f, 1f),
            JawDrop: Math.Clamp(0.6f * surprise + 0.2f * fear, 0f, 1f)
        );
    }
}

/// <summary>espeak-ng settings: pitch 0–99, rate in words per minute, amplitude 0–200, extra pause between words in 10 ms units.</summary>
public sealed record Prosody(int Pitch, int Rate, int Amplitude, int WordGap);

/// <summary>
/// A face's expression: smile (+) or frown (−), brows raised (+) or lowered (−), inner brows tilted up (+,
/// sadness) or down (−, anger), eye openness in (0, 1], extra jaw opening in [0, 1].
/// </summary>
public sealed record Expression(float Smile, float BrowRaise, float BrowTilt, float EyeOpen, float JawDrop)
{
    /// <summary>No expression.</summary>
    public static Expression Neutral => new(0, 0, 0, 0.5f, 0);
}
