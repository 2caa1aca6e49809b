/** keras.datasets: each loader reads the standard Keras file from the cache, downloading it with getFile when missing. */
import * as boston_housing from './boston_housing.js';
import { cifar10, cifar100 } from './cifar.js';
import * as fashion_mnist from './fashion_mnist.js';
import * as imdb from './imdb.js';
import * as mnist from './mnist.js';
import * as reuters from './reuters.js';

export const datasets = { boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters };
