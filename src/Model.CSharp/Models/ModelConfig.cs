using Research.Model.Modules;
using Research.Model.Text;

namespace Research.Model.Models;

/// <summary>
/// How much each stream contributes to the fused encoder output
/// (fused = Audio·audio encoder + Video·video→audio transformer + Text·text→audio transformer).
/// A weight of 0 removes that stream: its branch is not run and its input may be absent.
/// </summary>
public sealed record ModalityWeights(double Audio, double Video, double Text)
{
    /// <summary>Pre-training (paper §3): text gets less weight because GloVe vectors can be read back to characters.</summary>
    public static ModalityWeights Paper => new(0.4, 0.4, 0.2);

    /// <summary>Emotion fine-tuning and the from-scratch baseline (paper §4.1: "equal weights on all modalities").</summary>
    public static ModalityWeights Equal => new(1.0 / 3, 1.0 / 3, 1.0 / 3);

    /// <summary>Throws unless every weight is finite and non-negative and the audio weight or another is positive.</summary>
    public void Validate()
    {
        foreach (var (name, w) in new[] { ("audio", Audio), ("video", Video), ("text", Text) })
        {
            if (!double.IsFinite(w) || w < 0)
            {
                throw new ArgumentOutOfRangeException(name, w, $"modality weight {name} must be finite and >= 0");
            }
        }
        if (Audio + Video + Text <= 0)
        {
            throw new ArgumentException($"at least one modality weight must be positive ({this})");
        }
    }
}

/// <summary>
/// Loss weights of the tasks: total = Asr·ASR + Speaker·speaker + Emotion·emotion.
/// A task with weight 0 builds no head and computes no loss (fairseq/ESPnet criterion convention).
/// </summary>
public sealed record TaskWeights(double Asr, double Speaker, double Emotion)
{
    /// <summary>Multi-task pre-training (paper §3): 0.8 ASR, 0.2 speaker identification; not tuned by the authors.</summary>
    public static TaskWeights Pretraining => new(0.8, 0.2, 0.0);

    /// <summary>Emotion recognition only (fine-tuning and the from-scratch baseline).</summary>
    public static TaskWeights EmotionOnly => new(0.0, 0.0, 1.0);

    /// <summary>Throws unless every weight is finite, non-negative and at least one is positive.</summary>
    public void Validate()
    {
        foreach (var (name, w) in new[] { ("asr", Asr), ("speaker", Speaker), ("emotion", Emotion) })
        {
            if (!double.IsFinite(w) || w < 0)
            {
                throw new ArgumentOutOfRangeException(name, w, $"task weight {name} must be finite and >= 0");
            }
        }
        if (Asr + Speaker + Emotion <= 0)
        {
            throw new ArgumentException($"at least one task weight must be positive ({this})");
        }
    }
}

/// <summary>
/// The cross-modal multi-task transformer. Defaults are the paper's configuration (§3, §4.1); where the
/// paper is silent the default says what we chose and why.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>40 log mel filter-bank energies per 10 ms frame, 5 frames stacked (§4.1): 200.</summary>
    public int AudioDim { get; init; } = 200;

    /// <summary>VGG-16 fc7 features per video frame (§4.1): 4096.</summary>
    public int VideoDim { get; init; } = 4096;

    /// <summary>GloVe vectors per word (§4.1): 300.</summary>
    public int TextDim { get; init; } = 300;

    /// <summary>Model dimensionality (§4.1): 512.</summary>
    public int DModel { get; init; } = 512;

    /// <summary>Attention heads in every attention block (§4.1): 4.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Inner size of every feed-forward block (§4.1): 200.</summary>
    public int FeedForward { get; init; } = 200;

    /// <summary>Self-attention layers of the audio encoder (§4.1): 4.</summary>
    public int AudioLayers { get; init; } = 4;

    /// <summary>Layers of each cross-modal (video→audio, text→audio) transformer (§4.1): 4.</summary>
    public int CrossModalLayers { get; init; } = 4;

    /// <summary>Layers of the ASR transformer decoder (§4.1): 2.</summary>
    public int DecoderLayers { get; init; } = 2;

    /// <summary>
    /// Dropout on embeddings, attention weights and residual branches. The paper gives none; 0.1 is the
    /// Transformer's and Speech-Transformer's [24] value.
    /// </summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary>Characters the ASR decoder predicts, specials included (see <see cref="CharVocabulary"/>).</summary>
    public int VocabSize { get; init; } = CharVocabulary.English.Size;

    /// <summary>Speakers of the identification task: VoxCeleb2 dev after filtering (§4.1): 5,994.</summary>
    public int Speakers { get; init; } = 5994;

    /// <summary>Emotions of CMU-MOSEI (§4.1): happy, sad, anger, surprise, disgust, fear.</summary>
    public int Emotions { get; init; } = 6;

    /// <summary>Stream weights of the fused output (§3): audio 0.4, video 0.4, text 0.2.</summary>
    public ModalityWeights Modalities { get; init; } = ModalityWeights.Paper;

    /// <summary>Task weights of the loss (§3): ASR 0.8, speaker 0.2; emotion 0 in pre-training.</summary>
    public TaskWeights Tasks { get; init; } = TaskWeights.Pretraining;

    /// <summary>
    /// Label smoothing of the ASR cross-entropy. The paper gives none; 0.1 follows Speech-Transformer [24].
    /// </summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>
    /// Share of the ASR term given to a CTC loss on the fused encoder output (hybrid CTC/attention, Watanabe et
    /// al. 2017): ASR = (1 − w) · attention CE + w · CTC. The paper trains the attention decoder alone (0, the
    /// default); a positive share builds a linear CTC head (d → characters, blank = the pad symbol) that pushes
    /// the encoder to align with the characters, which makes the attention decoder learn much sooner on small
    /// budgets (the demo preset uses it; see the README).
    /// </summary>
    public double CtcWeight { get; init; } = 0.0;

    /// <summary>
    /// Any-subset encoder, an option beyond the paper (off by default: the paper's model, which needs audio, §5.3 and
    /// §6). When on, the encoder gives an embedding for every non-empty subset of {audio, video, text}: a modality is
    /// present when its weight is positive and the batch has its input; an absent input may be null (or hold
    /// anything: it is never read). Why this design:
    /// <list type="bullet">
    /// <item>With audio present nothing changes: the audio encoder's output is the query axis, as in the paper, so a
    /// pre-trained paper model's weights load unchanged and A+V+T is the paper's computation.</item>
    /// <item>Without audio the query axis is the present modality of highest priority, video (a frame rate near the
    /// audio's, and the stream the paper weights like audio) else text: its own embedding in its cross-modal
    /// branch (the branch's input projection + positions), through a LayerNorm of its own (<c>substitute_norm</c>,
    /// 2·D parameters, the only new ones) that plays the audio encoder's final LayerNorm. The cross-modal layers then
    /// run unchanged: queried by video, the video branch attends to video itself and the text branch to text. A
    /// learned constant query resampled to the anchor's length was the alternative; it starts every query from
    /// positions alone, where the anchor's embedding gives content-dependent queries from the first layer.</item>
    /// <item>A branch whose source is absent is skipped, and the fusion weights are renormalised over the present
    /// streams (Σ = 1), so the embedding's scale does not depend on how many streams a batch has (the heads see
    /// one distribution). With every stream present and weights summing to 1 this is the paper's sum.</item>
    /// <item>The output lives on the query axis (audio frames, else video frames, else words) with its padding; the
    /// heads pool over valid steps, so they work on any axis.</item>
    /// <item>Modality dropout (<see cref="ModalityDropout"/>) teaches the model to do without each stream.</item>
    /// </list>
    /// </summary>
    public bool AnySubset { get; init; } = false;

    /// <summary>
    /// Modality dropout of the any-subset encoder (needs <see cref="AnySubset"/>): in training mode each present
    /// modality of a batch is dropped with this probability, independently, redrawn while all would be dropped
    /// (never all: the draw is the independent one conditioned on at least one kept). Per batch, not per item,
    /// because without audio the query axis changes and a batch has one axis. Drawn from torch's generator, so the
    /// run's seed fixes it. 0 (default) drops nothing; must be in [0, 1).
    /// </summary>
    public double ModalityDropout { get; init; } = 0.0;

    /// <summary>
    /// Learned modality weights, an option beyond the paper (off by default): the fusion weights are
    /// softmax(modality_logits) over the modalities with a positive configured weight, three parameters
    /// initialised at log(configured weight), so that at step 0 the softmax is the configured weights (normalised to
    /// sum 1: exactly the paper's 0.4/0.4/0.2 and the equal thirds). A modality whose configured weight is 0 has no
    /// branch and no share. The paper chose 0.4/0.4/0.2 by hand (§3) and asks for other weightings (§3, §6); with
    /// this option the tasks' losses choose. The weights are logged each step (<c>modality_weight_*</c>).
    /// </summary>
    public bool LearnedModalityWeights { get; init; } = false;

    /// <summary>
    /// The learning rate of the learned modality logits as a multiple of the scheduled one (their own Adam group;
    /// needs <see cref="LearnedModalityWeights"/>). Default 100. Why: Adam moves every parameter by about the learning
    /// rate per step whatever its gradient's size, so at the schedule's rate (peak ~1e-4 in the demo preset, ~1e-6 in
    /// its first steps) three logits move by a few hundredths over a whole run: the weights stayed at the starting
    /// point (0.4 → 0.39996 in 6 demo steps) and "learned" meant "configured". The other parameters are many and act
    /// together; these three each set a whole stream's share, so a step of ~1e-2 at the peak (100×) lets the shares
    /// move by tens of percent within a few hundred steps and still takes ~100 steps to move a logit by 1, slow
    /// against the gradient noise of one batch. 1 gives them the schedule's rate like every other parameter.
    /// The value is a model constant, not a field of the F# run configs (a new field would change every existing run's
    /// recorded config); learned-weights runs record it among their inputs (Config.learnedWeightsInputs in F#), so a
    /// run made at another value is not reused.
    /// </summary>
    public double ModalityWeightLearningRateScale { get; init; } = 100.0;

    /// <summary>This configuration with the any-subset encoder on or off and a modality-dropout probability (for F#).</summary>
    public ModelConfig WithAnySubset(bool anySubset, double modalityDropout) =>
        this with
        {
            AnySubset = anySubset,
            ModalityDropout = modalityDropout,
        };

    /// <summary>This configuration with learned modality weights on or off (for F#).</summary>
    public ModelConfig WithLearnedModalityWeights(bool learned) => this with { LearnedModalityWeights = learned };

    /// <summary>This configuration with another learning-rate multiple for the learned modality logits (for F#).</summary>
    public ModelConfig WithModalityWeightLearningRateScale(double scale) => this with { ModalityWeightLearningRateScale = scale };

    /// <summary>This configuration with another dropout (for F#, which cannot copy-and-update C# records).</summary>
    public ModelConfig WithDropout(double dropout) => this with { Dropout = dropout };

    /// <summary>This configuration with another CTC share (for F#).</summary>
    public ModelConfig WithCtcWeight(double ctcWeight) => this with { CtcWeight = ctcWeight };

    /// <summary>The paper's configuration.</summary>
    public static ModelConfig Paper => new();

    /// <summary>Throws, naming the field, unless every size is positive and consistent.</summary>
    public void Validate()
    {
        foreach (
            var (name, v) in new[]
            {
                ("AudioDim", AudioDim),
                ("VideoDim", VideoDim),
                ("TextDim", TextDim),
                ("DModel", DModel),
                ("Heads", Heads),
                ("FeedForward", FeedForward),
                ("AudioLayers", AudioLayers),
                ("CrossModalLayers", CrossModalLayers),
                ("DecoderLayers", DecoderLayers),
                ("VocabSize", VocabSize),
                ("Speakers", Speakers),
                ("Emotions", Emotions),
            }
        )
        {
            if (v <= 0)
            {
                throw new ArgumentOutOfRangeException(name, v, $"{name} must be positive");
            }
        }
        if (DModel % Heads != 0)
        {
            throw new ArgumentException($"DModel ({DModel}) must be divisible by Heads ({Heads})");
        }
        if (!(Dropout >= 0 && Dropout < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1)");
        }
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(LabelSmoothing), LabelSmoothing, "LabelSmoothing must be in [0, 1)");
        }
        if (!(CtcWeight >= 0 && CtcWeight <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(CtcWeight), CtcWeight, "CtcWeight must be in [0, 1]");
        }
        if (VocabSize <= CharVocabulary.FirstCharacter)
        {
            throw new ArgumentOutOfRangeException(
                nameof(VocabSize),
                VocabSize,
                $"VocabSize must exceed the {CharVocabulary.FirstCharacter} special symbols"
            );
        }
        if (!(ModalityDropout >= 0 && ModalityDropout < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(ModalityDropout), ModalityDropout, "ModalityDropout must be in [0, 1)");
        }
        if (!(double.IsFinite(ModalityWeightLearningRateScale) && ModalityWeightLearningRateScale > 0))
        {
            throw new ArgumentOutOfRangeException(
                nameof(ModalityWeightLearningRateScale),
                ModalityWeightLearningRateScale,
                "ModalityWeightLearningRateScale must be finite and > 0"
            );
        }
        if (ModalityDropout > 0 && !AnySubset)
        {
            throw new ArgumentException(
                $"ModalityDropout {ModalityDropout} needs AnySubset (the paper's encoder cannot run without audio)"
            );
        }
        Modalities.Validate();
        Tasks.Validate();
    }
}
