using Research.Model.Data;
using Research.Model.Models;
using Research.Model.Modules;
using Research.Model.Runtime;
using Research.Model.Text;
using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>
/// Pre-training items: features from a store, transcripts and speakers from the Kaldi data dir. Transcripts are
/// encoded into the character vocabulary up front, so a character outside it is an error naming the utterance
/// before training starts.
/// </summary>
public sealed class PretrainingData : IBatchSource
{
    readonly FeatureStore store;
    readonly int[] items;
    readonly int[][] transcripts;
    readonly long[] speakers;

    /// <param name="store">the feature store of <paramref name="dir"/></param>
    /// <param name="dir">the data dir (transcripts, speakers)</param>
    /// <param name="items">store positions of the items of this split</param>
    /// <param name="vocabulary">the ASR characters</param>
    public PretrainingData(FeatureStore store, KaldiDataDir dir, IReadOnlyList<int> items, CharVocabulary vocabulary)
    {
        this.store = store;
        this.items = items.ToArray();
        var byId = dir.Utterances.ToDictionary(u => u.Id);
        transcripts = new int[this.items.Length][];
        speakers = new long[this.items.Length];
        var lengths = store.Lengths(CorpusFeatures.Audio);
        var audio = new long[this.items.Length];
        for (int i = 0; i < this.items.Length; i++)
        {
            string id = store.Ids[this.items[i]];
            var u = byId.TryGetValue(id, out var found)
                ? found
                : throw new InvalidDataException($"{dir.Directory}: utterance {id} of the feature store is not in the data dir");
            transcripts[i] = vocabulary.Encode(u.Transcript, $"{dir.Directory}/text: {id}");
            speakers[i] = dir.SpeakerIndex[u.Speaker];
            audio[i] = lengths[this.items[i]];
        }
        Lengths = audio;
        SpeakerCount = dir.Speakers.Count;
    }

    /// <summary>Speakers of the data dir (the speaker head's classes).</summary>
    public int SpeakerCount { get; }

    /// <inheritdoc />
    public int Count => items.Length;

    /// <inheritdoc />
    public IReadOnlyList<long> Lengths { get; }

    /// <inheritdoc />
    public string Id(int item) => store.Ids[items[item]];

    /// <summary>The encoded transcript of item i.</summary>
    public int[] Transcript(int item) => transcripts[item];

    /// <summary>The speaker index of item i.</summary>
    public long Speaker(int item) => speakers[item];

    /// <inheritdoc />
    public (EncoderInput input, Targets targets) Batch(IReadOnlyList<int> batch, Device device)
    {
        var input = StoreBatches.Input(store, batch.Select(i => items[i]).ToArray(), device);
        var (asrIn, asrOut) = Targets.AsrPairs(batch.Select(i => transcripts[i]).ToArray(), device);
        var spk = tensor(batch.Select(i => speakers[i]).ToArray(), device: device);
        return (input, new Targets(asrIn, asrOut, spk, null));
    }

    /// <summary>
    /// Splits the store's items into training and held-out positions by <see cref="PretrainingSplit.HeldOutIds"/>
    /// of the data dir's utterances: per speaker, the last <paramref name="heldOutPerSpeaker"/> utterances by id are
    /// held out (so the speaker task is scored on known speakers, and CER on unseen sentences). The split is decided
    /// on the data dir, not on the store, so an utterance the store skipped (bad input) moves no other utterance
    /// between the splits, and training-split statistics (<see cref="TrainingCmvn"/>) cover the same utterances.
    /// </summary>
    public static (int[] train, int[] heldOut) Split(FeatureStore store, KaldiDataDir dir, int heldOutPerSpeaker)
    {
        var heldOutIds = PretrainingSplit.HeldOutIds(dir.Utterances, heldOutPerSpeaker);
        var positions = Enumerable.Range(0, store.Count).ToArray();
        return (
            positions.Where(i => !heldOutIds.Contains(store.Ids[i])).ToArray(),
            positions.Where(i => heldOutIds.Contains(store.Ids[i])).ToArray()
        );
    }
}

/// <summary>Emotion items (one store per fold): features and the six intensities; labels are presence (&gt; 0).</summary>
public sealed class EmotionData : IBatchSource
{
    readonly FeatureStore store;

    public EmotionData(FeatureStore store)
    {
        this.store = store;
        Lengths = store.Lengths(CorpusFeatures.Audio).Select(x => (long)x).ToArray();
        Intensities = Enumerable.Range(0, store.Count).Select(i => Row(store.Read(i, CorpusFeatures.Labels), i)).ToArray();
    }

    float[] Row(float[,] labels, int item)
    {
        if (labels.GetLength(0) != 1 || labels.GetLength(1) != 6)
        {
            throw new InvalidDataException($"item {store.Ids[item]}: labels are {labels.GetLength(0)}x{labels.GetLength(1)}, expected 1x6");
        }
        return Enumerable.Range(0, 6).Select(e => labels[0, e]).ToArray();
    }

    /// <summary>The six intensities of every item (annotator means in [0, 3]).</summary>
    public IReadOnlyList<float[]> Intensities { get; }

    /// <inheritdoc />
    public int Count => store.Count;

    /// <inheritdoc />
    public IReadOnlyList<long> Lengths { get; }

    /// <inheritdoc />
    public string Id(int item) => store.Ids[item];

    /// <summary>Positives per emotion over all items.</summary>
    public int[] Positives() => Enumerable.Range(0, 6).Select(e => Intensities.Count(x => x[e] > 0)).ToArray();

    /// <inheritdoc />
    public (EncoderInput input, Targets targets) Batch(IReadOnlyList<int> batch, Device device)
    {
        var input = StoreBatches.Input(store, batch, device);
        var present = batch.SelectMany(i => Intensities[i].Select(x => x > 0 ? 1f : 0f)).ToArray();
        return (input, new Targets(null, null, null, tensor(present, [batch.Count, 6], device: device)));
    }
}

/// <summary>
/// Store items as padded model inputs, read straight into the tensors' memory: no managed array per item or per batch.
/// (Reading each item into a <c>float[,]</c> and padding into one more array allocated ~15 MB of large-object heap
/// per demo emotion batch, which kept .NET's background collector busy on the other core: one gen-2 collection every
/// four batches.)
/// </summary>
public static class StoreBatches
{
    /// <summary>Audio, video and text of several store items (positions) as padded sequences.</summary>
    public static EncoderInput Input(FeatureStore store, IReadOnlyList<int> items, Device device) =>
        new(
            Padded(store, items, CorpusFeatures.Audio, device),
            Padded(store, items, CorpusFeatures.Video, device),
            Padded(store, items, CorpusFeatures.Text, device)
        );

    /// <summary>
    /// One modality of several store items as a padded sequence (B, T, F) with its padding mask; zeros after each
    /// item's rows. An item without the modality is an error naming the store and the item.
    /// </summary>
    public static Sequence Padded(FeatureStore store, IReadOnlyList<int> items, string modality, Device device)
    {
        if (items.Count == 0)
        {
            throw new ArgumentException("a batch needs at least one item");
        }
        long columns = store.Columns(modality);
        var lengths = new long[items.Count];
        long max = 0;
        for (int i = 0; i < items.Count; i++)
        {
            int rows = store.Rows(items[i], modality);
            if (rows < 0)
            {
                throw new KeyNotFoundException(
                    $"feature store {store.Directory}: item '{store.Ids[items[i]]}' (#{items[i]}) has no '{modality}' features"
                );
            }
            lengths[i] = rows;
            max = Math.Max(max, rows);
        }
        var features = zeros([items.Count, max, columns], dtype: ScalarType.Float32);
        try
        {
            Fill(features, store, items, modality, lengths, max * columns, columns);
            var onDevice = device.type == TorchSharp.DeviceType.CPU ? features : features.to(device);
            return new Sequence(onDevice, Masks.PaddingFromLengths(lengths, max, device));
        }
        catch
        {
            features.Dispose();
            throw;
        }
    }

    static void Fill(
        Tensor features,
        FeatureStore store,
        IReadOnlyList<int> items,
        string modality,
        long[] lengths,
        long stride,
        long columns
    )
    {
        if (stride == 0)
        {
            return;
        }
        var data = TensorMemory.Span<float>(features);
        for (int i = 0; i < items.Count; i++)
        {
            store.ReadInto(items[i], modality, data.Slice(checked((int)(i * stride)), checked((int)(lengths[i] * columns))));
        }
    }
}
