/** keras.wrappers.scikit_learn, and the GridSearchCV-style helper that drives the wrappers. */
export { type BuildFn, KerasClassifier, KerasRegressor, type Params, type WrappedModel } from './scikit_learn.js';
export { type CvResult, type Estimator, GridSearchCV, kFold, parameterGrid } from './grid_search.js';
