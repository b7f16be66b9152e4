import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.data.base import DataError
from netbuilder.data.tables import load_csv, load_text_csv, looks_like_text_csv, tokenize


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_string_labels_make_a_stratified_classification(tmp_path):
    rows = "".join(f"{i},{i * 10 + 1},{['setosa', 'virginica'][i % 2]}\n" for i in range(20))
    dataset = load_csv(write(tmp_path, "x1,x2,species\n" + rows), val_fraction=0.25, seed=0)
    assert dataset.task == "classification" and dataset.kind == "vector"
    assert dataset.class_names == ["setosa", "virginica"]
    assert dataset.train_x.shape == (16, 2) and dataset.val_x.shape == (4, 2)
    assert dataset.train_x.dtype == torch.float32 and dataset.train_y.dtype == torch.int64
    assert sorted(dataset.val_y.tolist()) == [0, 0, 1, 1]
    assert dataset.name == "data" and dataset.source.endswith("data.csv")


@pytest.mark.parametrize("scaling", ["standard", "minmax", "none"])
def test_scaling_uses_training_statistics_only(tmp_path, scaling):
    # The target repeats the raw feature, so each sample's raw value is known after shuffling.
    rows = "".join(f"{i * i},{i * i}.5\n" for i in range(30))
    dataset = load_csv(write(tmp_path, "size,target\n" + rows), scaling=scaling, val_fraction=0.3, seed=2)
    assert dataset.task == "regression"
    assert dataset.train_y.dtype == torch.float32 and dataset.train_y.shape == (21, 1)
    raw_train = (dataset.train_y - 0.5).double()
    raw_val = (dataset.val_y - 0.5).double()
    if scaling == "standard":
        offset, spread = raw_train.mean(), raw_train.std(unbiased=False)
    elif scaling == "minmax":
        offset, spread = raw_train.min(), raw_train.max() - raw_train.min()
    else:
        offset, spread = 0.0, 1.0
    torch.testing.assert_close(dataset.train_x.double(), (raw_train - offset) / spread, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(dataset.val_x.double(), (raw_val - offset) / spread, rtol=1e-5, atol=1e-5)


def test_a_constant_column_does_not_divide_by_zero(tmp_path):
    dataset = load_csv(write(tmp_path, "a,b,y\n" + "".join(f"5,{i},{i % 2}\n" for i in range(10))))
    assert torch.isfinite(dataset.train_x).all()
    assert dataset.train_x[:, 0].abs().max().item() == 0


def test_few_whole_numbers_are_classes_in_numeric_order(tmp_path):
    rows = "".join(f"{i},{[2, 10, 3][i % 3]}\n" for i in range(12))
    dataset = load_csv(write(tmp_path, "x,digit\n" + rows))
    assert dataset.task == "classification"
    assert dataset.class_names == ["2", "3", "10"]


def test_many_distinct_whole_numbers_are_a_regression_unless_asked(tmp_path):
    path = write(tmp_path, "x,price\n" + "".join(f"{i},{i * 7}\n" for i in range(30)))
    assert load_csv(path).task == "regression"
    forced = load_csv(path, task="classification", val_fraction=0)
    assert forced.num_classes == 30


def test_label_column_by_name_ignoring_case(tmp_path):
    path = write(tmp_path, "Label,f1,f2\nyes,1,2\nno,3,4\nyes,5,6\nno,7,8\n")
    dataset = load_csv(path, label_column="label", scaling="none", val_fraction=0)
    assert dataset.class_names == ["no", "yes"]
    features = {tuple(row) for row in dataset.train_x.tolist()}
    assert features == {(1.0, 2.0), (3.0, 4.0), (5.0, 6.0), (7.0, 8.0)}


def test_semicolons_decimal_commas_bom_and_quotes(tmp_path):
    path = write(tmp_path, '\ufeff"höhe";gewicht;klasse\n"1,5";2;a\n3,5;4;b\n', encoding="utf-8")
    dataset = load_csv(path, scaling="none", val_fraction=0)
    assert sorted(dataset.train_x.tolist()) == [[1.5, 2.0], [3.5, 4.0]]


def test_a_file_without_header_names_columns_by_position(tmp_path):
    path = write(tmp_path, "1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    dataset = load_csv(path, scaling="none", val_fraction=0)
    assert len(dataset.train_x) == 4
    with pytest.raises(DataError, match='no label column "y"; the columns are column 1, column 2, column 3'):
        load_csv(path, label_column="y")


def test_windows_spreadsheet_encoding_is_read(tmp_path):
    path = write(tmp_path, "größe,klasse\n1,groß\n2,klein\n", encoding="cp1252")
    assert load_csv(path, val_fraction=0).class_names == ["groß", "klein"]


@pytest.mark.parametrize("content, message", [
    ("x1,x2,x3,y\n" + "1,2,3,a\n" * 15 + "1,2,abc,b\n", "data.csv row 17: 'abc' is not a number in column x3."),
    ("x,y\n1,a\n,b\n", "data.csv row 3: the value in column x is missing; fill it in or remove the row."),
    ("x,y\n1,a\nnan,b\n", "data.csv row 3: 'nan' is not a number in column x."),
    ("x,y\n1,a\n2\n", "data.csv row 3: has 1 value but the header has 2 columns."),
    ("x,y\n1,a\n2,b,c,d\n", "data.csv row 3: has 4 values but the header has 2 columns."),
    ("x,y\n1,a\n2,\n", "data.csv row 3: the label (y) is missing."),
    ("x,y\n1,a\n2,a\n", "data.csv: every row has the label 'a' in column y; a classification needs at least two"),
    ("", "data.csv: is empty"),
    ("x,y\n\n", "data.csv: has a header but no data rows."),
    ("y\na\nb\n", "data.csv: needs at least one feature column"),
    ('x,y\n1,"a\n2,b\n', "data.csv row 2: cannot be read as CSV (unexpected end of data); check its quotes."),
])
def test_bad_files_name_the_file_and_row(tmp_path, content, message):
    with pytest.raises(DataError) as error:
        load_csv(write(tmp_path, content))
    assert message in str(error.value)


def test_regression_on_words_names_the_row(tmp_path):
    path = write(tmp_path, "x,y\n1,2.5\n2,lots\n")
    with pytest.raises(DataError, match="data.csv row 3: the label 'lots' is not a number"):
        load_csv(path, task="regression")


def test_binary_and_missing_files_are_refused(tmp_path):
    with pytest.raises(DataError, match="photo.csv: is not a CSV text file"):
        load_csv(write(tmp_path, "\x89PNG\x00\x00", name="photo.csv"))
    with pytest.raises(DataError, match="There is no CSV file .*gone.csv"):
        load_csv(tmp_path / "gone.csv")
    with pytest.raises(DataError, match="is a folder, not a CSV file"):
        load_csv(tmp_path)


CSV_LIKE_TEXT = st.text(alphabet=st.sampled_from(list('0123456789.,;\t"\n -abcé\r')), max_size=200)


@settings(max_examples=250, deadline=None)
@given(st.one_of(CSV_LIKE_TEXT.map(str.encode), st.text(max_size=100).map(str.encode), st.binary(max_size=100)))
def test_garbage_csv_gives_a_dataset_or_a_data_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("garbage") / "garbage.csv"
    path.write_bytes(content)
    for load in (load_csv, load_text_csv, looks_like_text_csv):
        try:
            load(path)
        except DataError as error:
            assert str(error).startswith("garbage.csv")


REVIEWS = """text,label
"Great movie, great actors!",pos
"Terrible. I hated it",neg
"great fun, don't miss it",pos
"boring and terrible",neg
"a great great story",pos
"so boring",neg
"""


def test_tokenize_lowercases_and_keeps_contractions():
    assert tokenize("Don't STOP, it's 2 good!") == ["don't", "stop", "it's", "2", "good"]


def test_text_csv_builds_a_vocabulary_from_training_texts(tmp_path):
    dataset = load_text_csv(write(tmp_path, REVIEWS), max_words=3, sequence_length=4, val_fraction=0)
    assert dataset.kind == "tokens" and dataset.class_names == ["neg", "pos"]
    # great ×5, then boring, it and terrible ×2 each: ties go alphabetically.
    assert dataset.vocabulary == ["<pad>", "<unk>", "great", "boring", "it"]
    assert dataset.train_x.dtype == torch.int64 and dataset.train_x.shape == (6, 4)
    encoded = {tuple(x): y for x, y in zip(dataset.train_x.tolist(), dataset.train_y.tolist())}
    assert encoded[(1, 2, 2, 1)] == 1  # "a great great story"
    assert encoded[(0, 0, 1, 3)] == 0  # "so boring": padded in front
    assert encoded[(2, 1, 2, 1)] == 1  # "Great movie, great actors!"
    assert encoded[(1, 1, 1, 4)] == 0  # "Terrible. I hated it"
    assert encoded[(2, 1, 1, 1)] == 1  # "great fun, don't miss it": keeps the first 4 words


def test_validation_words_stay_out_of_the_vocabulary(tmp_path):
    dataset = load_text_csv(write(tmp_path, REVIEWS), val_fraction=0.34, seed=5)
    assert len(dataset.val_x) == 2
    training_ids = set(dataset.train_x.flatten().tolist())
    assert set(range(2, len(dataset.vocabulary))) <= training_ids


def test_text_csv_needs_its_columns(tmp_path):
    with pytest.raises(DataError, match='data.csv: there is no text column "text"; the columns are review, label'):
        load_text_csv(write(tmp_path, "review,label\nok,1\n"))
    dataset = load_text_csv(write(tmp_path, "Review,Stars\ngood,5\nbad,1\n"), text_column="review",
                            label_column="stars", val_fraction=0)
    assert dataset.class_names == ["1", "5"]


def test_text_is_told_apart_from_numbers(tmp_path):
    assert looks_like_text_csv(write(tmp_path, REVIEWS))
    assert not looks_like_text_csv(write(tmp_path, "x,y\n1,cat\n2,big dog\n3,dog\n", name="n.csv"))
    assert looks_like_text_csv(write(tmp_path, "Text,label\nfine,1\nbad,0\n", name="named.csv"))
